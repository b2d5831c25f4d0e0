using Micro.Actors.Registry;

namespace Micro.Actors.Wrappers;

/// <summary>What a call is: unary (Call), one-way (Tell) or one of the stream kinds.</summary>
public enum CallKind
{
    Unary,
    OneWay,
    ServerStream,
    ClientStream,
    Bidirectional,
}

/// <summary>
/// A call as client and call wrappers see it. In a client wrapper it is the whole call
/// (<see cref="Attempt"/> 0, no <see cref="Node"/>); in a call wrapper, one attempt on one node, with
/// headers of its own copied from the call's.
/// </summary>
public sealed class CallContext
{
    internal CallContext(string service, string endpoint, string requestId, CallKind kind, string contentType,
        object? request, DateTime deadline, IReadOnlyDictionary<string, string> headers)
    {
        Service = service;
        Endpoint = endpoint;
        RequestId = requestId;
        Kind = kind;
        ContentType = contentType;
        Request = request;
        Deadline = deadline;
        _headers = new Dictionary<string, string>(headers, StringComparer.Ordinal);
    }

    /// <summary>One attempt of <paramref name="call"/> on <paramref name="node"/>.</summary>
    internal CallContext(CallContext call, int attempt, ServiceNode node, DateTime deadline)
        : this(call.Service, call.Endpoint, call.RequestId, call.Kind, call.ContentType, call.Request, deadline, call._headers)
    {
        Attempt = attempt;
        Node = node;
        _items = call._items ??= [];
    }

    public string Service { get; }
    public string Endpoint { get; }
    /// <summary>The call's id, the same on every attempt.</summary>
    public string RequestId { get; }
    public CallKind Kind { get; }
    public string ContentType { get; }
    /// <summary>The request as the caller gave it; null for a stream of requests.</summary>
    public object? Request { get; }
    /// <summary>When the caller stops waiting (UTC); a stream's is when it must have opened.</summary>
    public DateTime Deadline { get; }
    /// <summary>The metadata that goes with the request: what is here when it leaves is what the handler sees.</summary>
    public IDictionary<string, string> Headers => _headers;

    private readonly Dictionary<string, string> _headers;

    /// <summary>The headers as they leave.</summary>
    internal IReadOnlyDictionary<string, string> OutgoingHeaders => _headers;
    /// <summary>0 around the whole call; 1, 2, … around each attempt.</summary>
    public int Attempt { get; }
    /// <summary>The node of this attempt (call wrappers); null around the whole call.</summary>
    public ServiceNode? Node { get; }

    private Dictionary<object, object?>? _items;

    /// <summary>The innermost step: the call itself (client wrappers) or the attempt itself (call wrappers).</summary>
    internal Func<CallContext, Task<byte[]?>> Send { get; set; } = null!;

    /// <summary>Around the whole call, once it ended: the attempts it took, and on how many nodes (the router's count).</summary>
    internal int Attempts { get; set; }
    internal int NodesTried { get; set; }

    /// <summary>A stream's items so far (null for a unary call).</summary>
    internal Streaming.StreamCount? Stream { get; init; }

    /// <summary>
    /// Set by a client wrapper that lives as long as the stream it opened (the instrumentation): told how the
    /// stream ended — its error, or none, and whether it was read to its end (false: the caller stopped).
    /// </summary>
    internal Action<Errors.MicroError?, bool>? StreamEnded { get; set; }

    /// <summary>State a wrapper leaves for the others (ASP.NET Core's <c>HttpContext.Items</c>); shared by a call and its attempts.</summary>
    public IDictionary<object, object?> Items => _items ??= [];
}
