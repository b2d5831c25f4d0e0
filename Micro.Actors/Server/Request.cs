using Micro.Actors.Errors;

namespace Micro.Actors.Server;

/// <summary>
/// A call on the wire, from a caller's router to a node's server actor.
/// </summary>
/// <param name="Id">Unique per call (kept across retries), so handlers can spot a retried call.</param>
/// <param name="Endpoint">"Group.Method", e.g. "Greeter.Hello".</param>
/// <param name="Timeout">What is left of the caller's deadline when sent. A duration, not a clock
/// time, so clocks that differ between hosts don't matter; the server turns it into its own deadline.</param>
/// <param name="Body">The message, encoded by the caller in <paramref name="ContentType"/> (Hyperion between
/// .NET nodes), so its size is checked before sending and its type is checked by the server's codec.</param>
/// <param name="OneWay">A Tell: the server sends no reply.</param>
internal sealed record Request(
    string Id,
    string Service,
    string Endpoint,
    byte[] Body,
    string ContentType,
    IReadOnlyDictionary<string, string> Headers,
    TimeSpan Timeout,
    bool OneWay = false);

/// <summary>The answer to a <see cref="Request"/>: a body (encoded in the request's content type) or an error.</summary>
internal sealed record Response(string RequestId, byte[]? Body, MicroError? Error);

/// <summary>Asks a node's descriptor actor for its <see cref="Registry.NodeDescriptor"/>.</summary>
internal sealed record GetDescriptor
{
    public static readonly GetDescriptor Instance = new();
}

/// <summary>
/// Requests to one node that were in flight together, in one remote message: the caller's router
/// batches when more than one call is waiting, so one message carries the transport's fixed cost
/// for many calls. Each request inside keeps its own id, deadline and answer.
/// </summary>
internal sealed record RequestBatch(IReadOnlyList<Request> Requests);

/// <summary>Answers to one caller that were ready together, in one remote message.</summary>
internal sealed record ResponseBatch(IReadOnlyList<Response> Responses);
