using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Micro.Actors.Generators;

/// <summary>Reads a [MicroService] interface into a <see cref="ContractModel"/>, with the problems that keep it from working.</summary>
internal static class ContractReader
{
    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    public static ContractModel Read(INamedTypeSymbol contract, AttributeData attribute)
    {
        var problems = new List<Problem>();
        var where = LocationInfo.From(contract.Locations.FirstOrDefault());
        var display = contract.ToDisplayString();

        var service = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? "";
        string? group = null, version = null;
        foreach (var named in attribute.NamedArguments)
        {
            if (named.Key == "Group") group = named.Value.Value as string;
            else if (named.Key == "Version") version = named.Value.Value as string;
        }
        group ??= DefaultGroup(contract.Name);

        if (string.IsNullOrWhiteSpace(service) || service.Any(char.IsWhiteSpace))
            problems.Add(Bad(where, display, $"'{service}' is not a service name: give one without spaces, e.g. [MicroService(\"greeter\")]"));
        if (!IsWord(group))
            problems.Add(Bad(where, display, $"'{group}' is not an endpoint group: use a word without dots or spaces, e.g. Group = \"Greeter\""));
        if (version is not null && string.IsNullOrWhiteSpace(version))
            problems.Add(Bad(where, display, "the Version is empty: leave it out, or give one such as \"1.0.0\""));
        if (contract.IsGenericType)
            problems.Add(Bad(where, display, "a generic interface cannot be a contract: its endpoints need one request and reply type each"));
        if (!Reachable(contract))
            problems.Add(Bad(where, display, "the interface must be public or internal (and so must the types it is nested in) for its client to implement it"));

        var methods = new List<MethodModel>();
        var endpoints = new Dictionary<string, IMethodSymbol>();
        foreach (var member in Members(contract))
        {
            if (member.IsStatic || !member.IsAbstract) continue; // statics and default bodies are helpers, not endpoints
            if (member is not IMethodSymbol { MethodKind: MethodKind.Ordinary } method)
            {
                if (member is IMethodSymbol { AssociatedSymbol: not null }) continue; // accessors: reported with their property or event
                problems.Add(Shape(member, $"{(member.Kind == SymbolKind.Property ? "properties" : member.Kind.ToString().ToLowerInvariant() + "s")} cannot be endpoints, only methods"));
                continue;
            }
            var read = ReadMethod(method, problems);
            if (read is null) continue;
            if (endpoints.TryGetValue(read.Endpoint, out var first))
            {
                problems.Add(new Problem(Diagnostics.DuplicateEndpoint, LocationInfo.From(method.Locations.FirstOrDefault()),
                    new[] { Describe(first), Describe(method), $"{group}.{read.Endpoint}" }.ToEquatable()));
                continue;
            }
            endpoints[read.Endpoint] = method;
            methods.Add(read);
        }

        return new ContractModel(
            contract.ContainingNamespace.IsGlobalNamespace ? "" : contract.ContainingNamespace.ToDisplayString(),
            contract.ToDisplayString(TypeFormat), contract.Name,
            contract.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "").Replace('<', '_').Replace('>', '_'),
            service, group, version, methods.ToEquatable(), problems.ToEquatable());
    }

    private static MethodModel? ReadMethod(IMethodSymbol method, List<Problem> problems)
    {
        if (method.IsGenericMethod) { problems.Add(Shape(method, "a generic method has no one request type")); return null; }
        var parameters = method.Parameters;
        if (parameters.Any(p => p.RefKind != RefKind.None)) { problems.Add(Shape(method, "ref, out and in parameters cannot cross the wire")); return null; }
        if (parameters.Length == 0 || IsToken(parameters[0].Type)) { problems.Add(Shape(method, "it takes no request")); return null; }
        if (parameters.Length > 2 || (parameters.Length == 2 && !IsToken(parameters[1].Type)))
        {
            problems.Add(Shape(method, "it takes more than a request and a CancellationToken; put what it needs in one request type"));
            return null;
        }

        var requestType = parameters[0].Type;
        var requestStream = StreamOf(requestType);
        var returned = method.ReturnType;
        var replyStream = StreamOf(returned);
        var (shape, reply) = (requestStream, replyStream, returned) switch
        {
            (null, null, INamedTypeSymbol { Arity: 1 } t) when IsTask(t) => (Generators.Shape.Call, t.TypeArguments[0]),
            (null, null, INamedTypeSymbol { Arity: 0 } t) when IsTask(t) => (Generators.Shape.OneWay, null),
            (null, { } items, _) => (Generators.Shape.ServerStream, items),
            ({ }, null, INamedTypeSymbol { Arity: 1 } t) when IsTask(t) => (Generators.Shape.ClientStream, t.TypeArguments[0]),
            ({ }, { } items, _) => (Generators.Shape.BidiStream, items),
            _ => ((Shape?)null, (ITypeSymbol?)null),
        };
        if (shape is not { } found)
        {
            problems.Add(Shape(method, requestStream is not null && returned is INamedTypeSymbol { Arity: 0 } t && IsTask(t)
                ? "a client stream returns its one reply as Task<TReply>"
                : $"it returns {returned.ToDisplayString()}"));
            return null;
        }

        var request = requestStream ?? requestType;
        var ok = Serializable(method, "request", request, problems);
        if (reply is not null) ok &= Serializable(method, "reply", reply, problems);
        if (!ok) return null;

        var endpoint = EndpointName(method);
        if (!IsWord(endpoint))
        {
            problems.Add(Shape(method, $"'{endpoint}' is not an endpoint name: use a word without dots or spaces"));
            return null;
        }
        return new MethodModel(method.Name, endpoint, found, returned.ToDisplayString(TypeFormat), requestType.ToDisplayString(TypeFormat),
            request.ToDisplayString(TypeFormat), reply?.ToDisplayString(TypeFormat),
            parameters[0].Name, parameters.Length == 2 ? parameters[1].Name : null);
    }

    /// <summary>Whether values of <paramref name="type"/> can be written by a codec; reports why not.</summary>
    private static bool Serializable(IMethodSymbol method, string role, ITypeSymbol type, List<Problem> problems)
    {
        var why = type switch
        {
            IPointerTypeSymbol or IFunctionPointerTypeSymbol => "it is a pointer",
            ITypeParameterSymbol => "it is an open type parameter",
            { TypeKind: TypeKind.Delegate } => "it is a delegate (code, not data)",
            { IsRefLikeType: true } => "it is a ref struct, which lives only on the stack",
            _ when IsTask(type) || Named(type, "System.Threading.Tasks", "ValueTask") => "it is a task; return or take its result instead",
            _ when IsToken(type) => "a CancellationToken is a local signal; it is passed as the method's last parameter",
            _ when StreamOf(type) is not null => "streams nest only one level: a stream of streams cannot be sent",
            _ when Derives(type, "System.IO", "Stream") => "a System.IO.Stream is a handle, not data; send bytes (byte[]) or stream the chunks",
            _ when Named(type, "System", "Type") || Derives(type, "System.Reflection", "MemberInfo") => "it is reflection metadata",
            _ when Named(type, "System", "IntPtr") || Named(type, "System", "UIntPtr") => "it is a native handle",
            _ => null,
        };
        if (why is null) return true;
        problems.Add(new Problem(Diagnostics.NotSerializable, LocationInfo.From(method.Locations.FirstOrDefault()),
            new[] { Describe(method), role, type.ToDisplayString(), why }.ToEquatable()));
        return false;
    }

    private static IEnumerable<ISymbol> Members(INamedTypeSymbol contract) =>
        contract.GetMembers().Concat(contract.AllInterfaces.SelectMany(i => i.GetMembers()));

    private static string EndpointName(IMethodSymbol method) =>
        method.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "Micro.Actors.Contracts.MicroEndpointAttribute")
            ?.ConstructorArguments.FirstOrDefault().Value as string ?? method.Name;

    private static string DefaultGroup(string name) =>
        name.Length > 1 && name[0] == 'I' && char.IsUpper(name[1]) ? name.Substring(1) : name;

    private static bool IsWord(string? text) => !string.IsNullOrEmpty(text) && !text!.Any(c => c == '.' || char.IsWhiteSpace(c));

    private static bool Reachable(INamedTypeSymbol type)
    {
        for (ISymbol? t = type; t is INamedTypeSymbol named; t = named.ContainingType)
            if (named.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal)) return false;
        return true;
    }

    private static ITypeSymbol? StreamOf(ITypeSymbol type) =>
        type is INamedTypeSymbol { Arity: 1 } named && Named(named.ConstructedFrom, "System.Collections.Generic", "IAsyncEnumerable")
            ? named.TypeArguments[0] : null;

    private static bool IsTask(ITypeSymbol type) => Named(type, "System.Threading.Tasks", "Task");
    private static bool IsToken(ITypeSymbol type) => Named(type, "System.Threading", "CancellationToken");

    private static bool Named(ITypeSymbol type, string ns, string name) =>
        type.Name == name && type.ContainingNamespace?.ToDisplayString() == ns;

    private static bool Derives(ITypeSymbol type, string ns, string name)
    {
        for (var t = type; t is not null; t = t.BaseType)
            if (Named(t, ns, name)) return true;
        return false;
    }

    private static string Describe(ISymbol member) => $"{member.ContainingType.Name}.{member.Name}";

    private static Problem Shape(ISymbol member, string why) =>
        new(Diagnostics.BadShape, LocationInfo.From(member.Locations.FirstOrDefault()), new[] { Describe(member), why }.ToEquatable());

    private static Problem Bad(LocationInfo? where, string contract, string why) =>
        new(Diagnostics.BadContract, where, new[] { contract, why }.ToEquatable());
}
