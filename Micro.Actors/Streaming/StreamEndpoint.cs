using System.Runtime.CompilerServices;
using Micro.Actors.Server;

namespace Micro.Actors.Streaming;

/// <summary>
/// One streaming endpoint a node serves. Every kind is run the same way: the request (server streams)
/// or the requests (client and bidirectional streams) in, replies out.
/// </summary>
internal sealed record StreamEndpoint(string Name, StreamKind Kind, Type RequestType, Type ResponseType,
    Func<object?, IAsyncEnumerable<object>?, RequestContext, IAsyncEnumerable<object>> Run)
{
    public bool TakesStream => Kind != StreamKind.Server;

    public static StreamEndpoint ServerStream<TRequest, TResponse>(string name, Func<TRequest, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        new(name, StreamKind.Server, typeof(TRequest), typeof(TResponse), (request, _, context) => Box(handler((TRequest)request!, context)));

    public static StreamEndpoint ClientStream<TRequest, TResponse>(string name, Func<IAsyncEnumerable<TRequest>, RequestContext, Task<TResponse>> handler) =>
        new(name, StreamKind.Client, typeof(TRequest), typeof(TResponse), (_, requests, context) => Once(() => handler(Cast<TRequest>(requests!), context)));

    public static StreamEndpoint Bidirectional<TRequest, TResponse>(string name, Func<IAsyncEnumerable<TRequest>, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        new(name, StreamKind.Bidirectional, typeof(TRequest), typeof(TResponse), (_, requests, context) => Box(handler(Cast<TRequest>(requests!), context)));

    private static async IAsyncEnumerable<object> Box<T>(IAsyncEnumerable<T> items, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await foreach (var item in items.WithCancellation(cancellation).ConfigureAwait(false))
            yield return item ?? throw new InvalidOperationException("a stream handler yielded null: streams carry messages, not nulls");
    }

    private static async IAsyncEnumerable<T> Cast<T>(IAsyncEnumerable<object> items, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await foreach (var item in items.WithCancellation(cancellation).ConfigureAwait(false)) yield return (T)item;
    }

    private static async IAsyncEnumerable<object> Once<T>(Func<Task<T>> reply)
    {
        yield return await reply().ConfigureAwait(false) ?? throw new InvalidOperationException("a client-stream handler returned null");
    }
}
