using System.Collections.Concurrent;
using Micro.Actors.Errors;
using Micro.Actors.Registry;

namespace Micro.Actors.Client;

/// <summary>
/// What a caller's code expects of an endpoint — one-way or not, the request's type and the reply's — checked
/// against the endpoint's descriptor in the registry before anything leaves, so a mistake is the caller's 400
/// naming the right type or method, not a message dropped on the server or a reply that cannot be read.
/// The types are known only for messages Hyperion carries (the .NET types themselves); JSON and protobuf
/// callers are checked for the kind of call only.
/// </summary>
internal sealed partial record CallShape(Type? Request, Type? Response)
{
    /// <summary>What is wrong with a call of this shape to <paramref name="endpoint"/>; null when nothing is.</summary>
    public static MicroError? Problem(string service, EndpointInfo endpoint, bool oneWay, CallShape? shape)
    {
        if (oneWay && endpoint.ResponseType is { } answers)
            return Wrong(service, endpoint, $"answers with a {Short(answers)}: call it with CallAsync (TellAsync is for one-way endpoints)");
        if (!oneWay && endpoint.ResponseType is null)
            return Wrong(service, endpoint, "is one-way (it sends no reply): send to it with TellAsync");
        if (shape?.Request is { } request && !Is(request, endpoint.RequestType))
            return Wrong(service, endpoint, $"takes a {endpoint.RequestType}, not a {request.FullName}");
        if (shape?.Response is { } wanted && endpoint.ResponseType is { } reply && !Gives(reply, wanted))
            return Wrong(service, endpoint, $"answers with a {reply}, which is not a {wanted.FullName}: ask for a {Short(reply)} (or object)");
        return null;
    }

    private static MicroError Wrong(string service, EndpointInfo endpoint, string what) =>
        MicroError.BadRequest("micro.client", $"{service} {endpoint.Name} {what}");

    /// <summary>Whether <paramref name="type"/> is the type named <paramref name="name"/>, derives from it, or implements it.</summary>
    private static bool Is(Type type, string name)
    {
        for (var t = type; t is not null; t = t.BaseType)
            if (Same(t, name)) return true;
        return Array.Exists(type.GetInterfaces(), i => Same(i, name));
    }

    /// <summary>
    /// Whether a reply declared as the type named <paramref name="reply"/> can be read as <paramref name="wanted"/>:
    /// the same type, one of its bases or interfaces, or — declared as a base (object, an interface) — one
    /// of the types the handler may really answer with. Only a declared type this process can look up is
    /// compared beyond its name.
    /// </summary>
    private static bool Gives(string reply, Type wanted)
    {
        if (wanted == typeof(object) || Same(wanted, reply)) return true;
        return Loaded(reply) is { } declared && (wanted.IsAssignableFrom(declared) || declared.IsAssignableFrom(wanted));
    }

    /// <summary>The same type by name, whatever the versions of the assemblies in a generic type's arguments (a rolling upgrade).</summary>
    private static bool Same(Type type, string name) =>
        type.FullName is { } full && (full == name || (full.Contains(", Version=", StringComparison.Ordinal) && Unversioned(full) == Unversioned(name)));

    private static string Unversioned(string name) => Versions().Replace(name, "");

    [System.Text.RegularExpressions.GeneratedRegex(@", (Version|Culture|PublicKeyToken)=[^,\]]+")]
    private static partial System.Text.RegularExpressions.Regex Versions();

    private static readonly ConcurrentDictionary<string, Type> Types = new(StringComparer.Ordinal);

    /// <summary>A type of this process by its full name (found ones are kept; a miss is looked up again next time, as assemblies load).</summary>
    private static Type? Loaded(string name)
    {
        if (Types.TryGetValue(name, out var known)) return known;
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            if (assembly.GetType(name, throwOnError: false) is { } type) return Types.GetOrAdd(name, type);
        return null;
    }

    private static string Short(string typeName) => typeName[(typeName.LastIndexOfAny(['.', '+']) + 1)..];
}
