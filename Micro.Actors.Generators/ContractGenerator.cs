using Microsoft.CodeAnalysis;

namespace Micro.Actors.Generators;

/// <summary>
/// The contracts' incremental source generator: for every interface marked
/// <c>[Micro.Actors.Contracts.MicroService]</c>, a typed client and a server binding, or the diagnostics
/// that say why it cannot have them.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ContractGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Micro.Actors.Contracts.MicroServiceAttribute";

    /// <summary>The name of the contracts' step, for tests that check an unrelated edit leaves it cached.</summary>
    public const string TrackingName = "Contracts";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var contracts = context.SyntaxProvider.ForAttributeWithMetadataName(
            AttributeName,
            static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.InterfaceDeclarationSyntax,
            static (syntax, _) => ContractReader.Read((INamedTypeSymbol)syntax.TargetSymbol, syntax.Attributes[0]))
            .WithTrackingName(TrackingName);

        context.RegisterSourceOutput(contracts, static (output, contract) =>
        {
            foreach (var problem in contract.Problems) output.ReportDiagnostic(problem.ToDiagnostic());
            if (!contract.HasErrors) output.AddSource(contract.HintName + ".Micro.g.cs", ContractWriter.Write(contract));
        });
    }
}
