using System.Collections.Immutable;
using Micro.Actors.Metadata;
using Micro.Actors.Wrappers;

namespace Micro.Actors.Broker;

/// <summary>
/// A broker of the user's own (<see cref="Service.MicroServiceOptions.Broker"/>) as the node uses it: the
/// node's publish and subscriber wrappers and its metadata run around it, as they do around the default.
/// </summary>
internal sealed class WrappedBroker : IBroker
{
    private static readonly IReadOnlyDictionary<string, string> NoHeaders = ImmutableDictionary<string, string>.Empty;
    private readonly IBroker _inner;
    private readonly WrapperOptions _wrappers;
    private readonly Pipeline<PublishDelegate>? _publish;

    public WrappedBroker(IBroker inner, WrapperOptions wrappers)
    {
        _inner = inner;
        _wrappers = wrappers;
        _publish = wrappers.Publish(static p => p.Send(p));
    }

    /// <summary>The broker the user plugged in.</summary>
    public IBroker Inner => _inner;

    public Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        options ??= PublishOptions.Default;
        var headers = MetadataContext.Outgoing(options.Headers ?? NoHeaders, options.PropagateMetadata);
        return _publish?.Current is not { } publish
            ? _inner.PublishAsync(topic, message, options with { Headers = headers, PropagateMetadata = false }, cancellationToken)
            : PublishContext.Run(publish, topic, message, options, headers,
                (t, m, o, h) => _inner.PublishAsync(t, m, o with { Headers = h, PropagateMetadata = false }, cancellationToken));
    }

    public Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null, CancellationToken cancellationToken = default) =>
        _inner.SubscribeAsync(topic, Wrap(topic, handler), queue, cancellationToken);

    public Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, SubscribeOptions options, CancellationToken cancellationToken) =>
        _inner.SubscribeAsync(topic, Wrap(topic, handler), options, cancellationToken);

    /// <summary>The handler inside the node's subscriber wrappers, with the event's metadata as the current one.</summary>
    private Func<T, EventContext, Task> Wrap<T>(string topic, Func<T, EventContext, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var pipeline = _wrappers.Subscriber(topic, static e => e.Deliver(e));
        return (message, context) =>
        {
            using var metadata = MetadataContext.Enter(context.Headers);
            if (pipeline?.Current is not { } run) return handler(message, context);
            return run(new EventCall(context, message!) { Deliver = c => handler((T)c.Message, c.Event) });
        };
    }

    public Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _inner.WaitForSubscribersAsync(topic, timeout, cancellationToken);
}
