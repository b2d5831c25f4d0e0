using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Micro.Actors.Contracts;
using Micro.Actors.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Micro.Actors.Tests.Contracts;

/// <summary>
/// The source generator run on contracts in memory: the code it writes for each shape (compared with the
/// checked-in snapshots, and compiled), each diagnostic with its id and place, and that an unrelated edit
/// leaves a contract's output cached. MICRO_UPDATE_SNAPSHOTS=1 rewrites the snapshots.
/// </summary>
public sealed class GeneratorTests
{
    private const string Types = """
        public sealed record Req(string Name);
        public sealed record Rep(string Text);
        """;

    public static TheoryData<string, string> Shapes => new()
    {
        { "Call", "Task<Rep> Hello(Req request, CancellationToken ct = default);" },
        { "OneWay", "Task Audit(Req request, CancellationToken ct = default);" },
        { "ServerStream", "IAsyncEnumerable<Rep> Count(Req request, CancellationToken ct = default);" },
        { "ClientStream", "Task<Rep> Sum(IAsyncEnumerable<Req> requests, CancellationToken ct = default);" },
        { "BidiStream", "IAsyncEnumerable<Rep> Chat(IAsyncEnumerable<Req> requests, CancellationToken ct = default);" },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Each_shape_generates_the_snapshot_and_compiles(string shape, string method)
    {
        var source = $$"""
            using Micro.Actors.Contracts;
            namespace Demo;
            {{Types}}
            [MicroService("demo")]
            public interface IDemo
            {
                {{method}}
            }
            """;
        var (generated, diagnostics) = Generate(source);

        Assert.Empty(diagnostics);
        MatchesSnapshot(shape, Assert.Single(generated));
    }

    [Fact]
    public void A_contract_in_the_global_namespace_with_a_version_a_renamed_endpoint_and_no_tokens_generates_the_snapshot()
    {
        var source = $$"""
            using Micro.Actors.Contracts;
            {{Types}}
            [MicroService("legacy", Group = "Old", Version = "1.2.0")]
            public interface ILegacy
            {
                [MicroEndpoint("Hi")] Task<Rep> Hello(Req @class);
                Task Note(Req request);
                IAsyncEnumerable<Rep> Feed(Req request);
            }
            """;
        var (generated, diagnostics) = Generate(source);

        Assert.Empty(diagnostics);
        MatchesSnapshot("GlobalVersionedRenamed", Assert.Single(generated));
    }

    public static TheoryData<string, string, string> Mistakes => new()
    {
        { "MICRO001", "int Size { get; }", "properties cannot be endpoints" },
        { "MICRO001", "Task<Rep> Hello<T>(Req request);", "a generic method" },
        { "MICRO001", "Task<Rep> Hello(CancellationToken ct);", "takes no request" },
        { "MICRO001", "Task<Rep> Hello(Req a, Req b);", "more than a request" },
        { "MICRO001", "Task<Rep> Hello(ref Req request);", "ref, out and in" },
        { "MICRO001", "Rep Hello(Req request);", "returns Demo.Rep" },
        { "MICRO001", "Task Sum(IAsyncEnumerable<Req> requests);", "a client stream returns its one reply" },
        { "MICRO002", "Task<Rep> Hello(System.Func<int> request);", "is a delegate" },
        { "MICRO002", "Task<System.IO.Stream> Hello(Req request);", "is a handle, not data" },
        { "MICRO002", "Task<Task<Rep>> Hello(Req request);", "is a task" },
        { "MICRO002", "Task<System.Type> Hello(Req request);", "reflection metadata" },
        { "MICRO003", "Task<Rep> Hello(Req request); Task<Rep> Hello(Rep request);", "are both the endpoint Demo.Hello" },
        { "MICRO003", "Task<Rep> Hello(Req request); [MicroEndpoint(\"Hello\")] Task<Rep> Greet(Req request);", "are both the endpoint Demo.Hello" },
        { "MICRO001", "[MicroEndpoint(\"Say.Hello\")] Task<Rep> Hello(Req request);", "'Say.Hello' is not an endpoint name" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void A_method_that_cannot_work_is_a_compile_error_with_its_id_and_place_and_nothing_is_generated(string id, string member, string says)
    {
        var source = $$"""
            using Micro.Actors.Contracts;
            namespace Demo;
            {{Types}}
            [MicroService("demo")]
            public interface IDemo
            {
                {{member}}
            }
            """;
        var (generated, diagnostics) = Generate(source);

        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Contains(says, diagnostic.GetMessage());
        Assert.Equal(7, diagnostic.Location.GetLineSpan().StartLinePosition.Line); // the member's line
        Assert.Empty(generated);
    }

    public static TheoryData<string, string> BadContracts => new()
    {
        { "[MicroService(\"demo\")] public interface IDemo<T> { Task<Rep> Hello(Req r); }", "a generic interface" },
        { "[MicroService(\"demo\", Group = \"A.B\")] public interface IDemo { Task<Rep> Hello(Req r); }", "'A.B' is not an endpoint group" },
        { "[MicroService(\"\")] public interface IDemo { Task<Rep> Hello(Req r); }", "is not a service name" },
        { "[MicroService(\"demo\", Version = \" \")] public interface IDemo { Task<Rep> Hello(Req r); }", "the Version is empty" },
        { "public class Outer { [MicroService(\"demo\")] private interface IDemo { Task<Rep> Hello(Req r); } }", "must be public or internal" },
    };

    [Theory]
    [MemberData(nameof(BadContracts))]
    public void A_contract_that_cannot_be_generated_says_why(string declaration, string says)
    {
        var (generated, diagnostics) = Generate($$"""
            using Micro.Actors.Contracts;
            namespace Demo;
            {{Types}}
            {{declaration}}
            """);

        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("MICRO004", diagnostic.Id);
        Assert.Contains(says, diagnostic.GetMessage());
        Assert.Empty(generated);
    }

    [Fact]
    public void An_unrelated_edit_leaves_the_contracts_output_cached()
    {
        var contract = CSharpSyntaxTree.ParseText($$"""
            using Micro.Actors.Contracts;
            namespace Demo;
            {{Types}}
            [MicroService("demo")] public interface IDemo { Task<Rep> Hello(Req r); }
            """, Parse, "Contract.cs");
        var other = CSharpSyntaxTree.ParseText("namespace Demo; public static class Other { public const int A = 1; }", Parse, "Other.cs");
        var compilation = Compile(contract, other);
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new ContractGenerator().AsSourceGenerator()], parseOptions: Parse,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(other,
            CSharpSyntaxTree.ParseText("namespace Demo; public static class Other { public const int A = 2; }", Parse, "Other.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        var steps = second.TrackedSteps[ContractGenerator.TrackingName];
        Assert.All(steps.SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"the contract's step ran again: {o.Reason}"));
    }

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Latest);

    /// <summary>The generated sources and every diagnostic: the generator's, and the compiler's on the generated code.</summary>
    private static (ImmutableArray<string> Generated, ImmutableArray<Diagnostic> Diagnostics) Generate(string source)
    {
        var compilation = Compile(CSharpSyntaxTree.ParseText(source, Parse, "Contract.cs"));
        var driver = CSharpGeneratorDriver.Create([new ContractGenerator().AsSourceGenerator()], parseOptions: Parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var generated = driver.GetRunResult().GeneratedTrees.Select(t => t.ToString()).ToImmutableArray();
        var compiled = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning);
        return (generated, generatorDiagnostics.Concat(compiled).ToImmutableArray());
    }

    private static CSharpCompilation Compile(params SyntaxTree[] trees) =>
        CSharpCompilation.Create("Contracts", [CSharpSyntaxTree.ParseText(GlobalUsings, Parse, "Usings.cs"), .. trees], References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private const string GlobalUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p)),
        MetadataReference.CreateFromFile(typeof(MicroServiceAttribute).Assembly.Location),
    ];

    private static void MatchesSnapshot(string name, string generated, [CallerFilePath] string here = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(here)!, "Snapshots", name + ".g.cs.txt");
        if (Environment.GetEnvironmentVariable("MICRO_UPDATE_SNAPSHOTS") == "1") File.WriteAllText(path, generated);
        Assert.True(File.Exists(path), $"no snapshot {path}: run the tests once with MICRO_UPDATE_SNAPSHOTS=1 and review it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings(), generated.ReplaceLineEndings());
    }
}
