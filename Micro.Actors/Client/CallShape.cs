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
internal sealed record CallShape(Type? Request, Type? Response)
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
            if (t.FullName == name) return true;
        return Array.Exists(type.GetInterfaces(), i => i.FullName == name);
    }

    /// <summary>Whether a reply of the type named <paramref name="reply"/> can be read as <paramref name="wanted"/>.</summary>
    private static bool Gives(string reply, Type wanted)
    {
        if (wanted == typeof(object) || wanted.FullName == reply) return true;
        // A base type or interface of the reply's: only this process can tell, if it has the reply's type.
        return Loaded(reply) is { } type ? wanted.IsAssignableFrom(type) : false;
    }

    private static readonly ConcurrentDictionary<string, Type?> Types = new(StringComparer.Ordinal);

    private static Type? Loaded(string name) => Types.GetOrAdd(name, static n =>
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            if (assembly.GetType(n, throwOnError: false) is { } type) return type;
        return null;
    });

    private static string Short(string typeName) => typeName[(typeName.LastIndexOfAny(['.', '+']) + 1)..];
}
