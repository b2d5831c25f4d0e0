using Akka.Streams;
using Micro.Actors.Errors;
using Micro.Actors.Server;

namespace Micro.Actors.Streaming;

/// <summary>Which way a streaming endpoint's messages flow (gRPC's names for go-micro's streams).</summary>
public enum StreamKind
{
    /// <summary>One request, a stream of replies.</summary>
    Server,
    /// <summary>A stream of requests, one reply.</summary>
    Client,
    /// <summary>Requests and replies flow at once, each at its own pace.</summary>
    Bidirectional,
}

/// <summary>
/// A caller asks a node's stream server (<c>/system/micro-streams</c>) to open a stream. Items travel
/// as <see cref="Response"/>s (body, or an error that ends the stream) through stream refs, so
/// back-pressure crosses the network.
/// </summary>
internal sealed record StreamOpen(string Id, string Service, string Endpoint, string ContentType,
    IReadOnlyDictionary<string, string> Headers, byte[]? Body);

/// <summary>The stream is open: replies come from <paramref name="Responses"/>; requests (if the endpoint takes a stream) go into <paramref name="Requests"/>.</summary>
internal sealed record StreamOpened(ISourceRef<Response> Responses, ISinkRef<Response>? Requests);

/// <summary>
/// The caller stopped reading: the handler is cancelled at once (the stream ref's own teardown tells
/// the other side too, but only as fast as death watch; this is one message).
/// </summary>
internal sealed record StreamCancel(string Id);

/// <summary>The node would not open the stream (unknown endpoint, bad request, shutting down).</summary>
internal sealed record StreamRefused(MicroError Error);
