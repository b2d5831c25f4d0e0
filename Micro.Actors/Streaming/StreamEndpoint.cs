using System.Runtime.CompilerServices;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Micro.Actors.Server;

namespace Micro.Actors.Streaming;

/// <summary>What a node lends its stream handlers: its actor system, its materializer, the idle timeout.</summary>
internal sealed record StreamHost(ActorSystem System, IMaterializer Materializer, TimeSpan IdleTimeout);

/// <summary>
/// What a stream handler actor is sent: the request (a server stream) or the requests (a client or
/// bidirectional stream, as a source to run), and the call's context. Reply with a
/// <c>Source&lt;TResponse, NotUsed&gt;</c> of the replies, or a <see cref="Errors.MicroError"/>.
/// </summary>
public sealed record StreamCall<TRequest>(TRequest? Request, Source<TRequest, NotUsed>? Requests, RequestContext Context);

/// <summary>
/// One streaming endpoint a node serves. Every kind is run the same way: the request (server streams)
/// or the requests (client and bidirectional streams) in, replies out.
/// </summary>
internal sealed record StreamEndpoint(string Name, StreamKind Kind, Type RequestType, Type ResponseType,
    Func<object?, IAsyncEnumerable<object>?, RequestContext, StreamHost, IAsyncEnumerable<object>> Run)
{
    public bool TakesStream => Kind != StreamKind.Server;

    public static StreamEndpoint ServerStream<TRequest, TResponse>(string name, Func<TRequest, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        new(name, StreamKind.Server, typeof(TRequest), typeof(TResponse), (request, _, context, _) => Box(handler((TRequest)request!, context)));

    public static StreamEndpoint ClientStream<TRequest, TResponse>(string name, Func<IAsyncEnumerable<TRequest>, RequestContext, Task<TResponse>> handler) =>
        new(name, StreamKind.Client, typeof(TRequest), typeof(TResponse), (_, requests, context, _) => Once(() => handler(Cast<TRequest>(requests!), context)));

    public static StreamEndpoint Bidirectional<TRequest, TResponse>(string name, Func<IAsyncEnumerable<TRequest>, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        new(name, StreamKind.Bidirectional, typeof(TRequest), typeof(TResponse), (_, requests, context, _) => Box(handler(Cast<TRequest>(requests!), context)));

    /// <summary>
    /// An actor per stream, made from <paramref name="props"/>: it is sent a <see cref="StreamCall{TRequest}"/>
    /// and replies with the <c>Source&lt;TResponse, NotUsed&gt;</c> of its replies (one element for a client
    /// stream), or a <see cref="Errors.MicroError"/> to refuse. It is stopped when the stream ends.
    /// </summary>
    public static StreamEndpoint Actor<TRequest, TResponse>(string name, StreamKind kind, Props props) =>
        new(name, kind, typeof(TRequest), typeof(TResponse), (request, requests, context, host) => RunActor<TRequest, TResponse>(name, props, request, requests, context, host));

    private static async IAsyncEnumerable<object> RunActor<TRequest, TResponse>(string name, Props props, object? request, IAsyncEnumerable<object>? requests,
        RequestContext context, StreamHost host)
    {
        var actor = host.System.ActorOf(props, $"micro-stream-{context.Id}");
        try
        {
            var call = new StreamCall<TRequest>(request is TRequest r ? r : default, requests is null ? null : Source.From(() => Cast<TRequest>(requests)), context);
            var reply = await actor.Ask<object>(call, host.IdleTimeout, context.Cancellation).ConfigureAwait(false);
            var replies = reply switch
            {
                Source<TResponse, NotUsed> source => source,
                Errors.MicroError error => throw error.ToException(),
                Status.Failure failure => throw failure.Cause,
                _ => throw Errors.MicroError.InternalServerError("micro.server",
                    $"the actor of {name} replied with {reply?.GetType().Name ?? "nothing"}; it should reply with a Source<{typeof(TResponse).Name}, NotUsed>").ToException(),
            };
            await foreach (var item in replies.RunAsAsyncEnumerable(host.Materializer).WithCancellation(context.Cancellation).ConfigureAwait(false))
                yield return item ?? throw new InvalidOperationException("a stream actor's source yielded null: streams carry messages, not nulls");
        }
        finally { host.System.Stop(actor); }
    }

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
