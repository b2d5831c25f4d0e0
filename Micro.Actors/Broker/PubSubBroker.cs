using Micro.Actors.Batching;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Service;

namespace Micro.Actors.Broker;

/// <summary>The default <see cref="IBroker"/>: Akka.Cluster.Tools' DistributedPubSub mediator.</summary>
public sealed class PubSubBroker : IBroker
{
    public const string DefaultContentType = HyperionCodec.MediaType;
    /// <summary>The header that names an encoded event's message type.</summary>
    public const string MessageTypeHeader = "Micro-Message-Type";
    private static readonly IReadOnlyDictionary<string, string> NoHeaders = ImmutableDictionary<string, string>.Empty;

    private readonly ActorSystem _system;
    private readonly IActorRef _mediator;
    private readonly Action<SubscriptionInfo, bool> _onChange;
    private readonly Codecs _codecs;
    private readonly int _maxPayload;
    private readonly TimeSpan _drainTimeout;
    private readonly Service.HandlerServices _services;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ISubscription, byte> _live = new();
    private readonly BurstQueue<PublisherActor.Outgoing> _outgoing = new(PublisherActor.Drain.Instance);
    private int _next;
    private readonly Wrappers.WrapperOptions? _wrappers;
    /// <summary>How events travel unless a publish names a content type (micro.client.content-type).</summary>
    private readonly string _contentType;
    /// <summary>The publish wrappers; null: publishes go straight.</summary>
    private readonly Wrappers.Pipeline<Wrappers.PublishDelegate>? _publish;

    /// <param name="onChange">Told of every subscription added (true) or removed (false), for the node's descriptor.</param>
    /// <param name="drainTimeout">How long an unsubscribe waits for the event being handled (<c>micro.server.drain-timeout</c>).</param>
    internal PubSubBroker(ActorSystem system, IActorRef mediator, IActorRef registry, Codecs codecs, int maxPayload, Action<SubscriptionInfo, bool> onChange,
        TimeSpan drainTimeout, Service.HandlerServices? services = null, Wrappers.WrapperOptions? wrappers = null, string contentType = DefaultContentType)
    {
        _contentType = contentType;
        _wrappers = wrappers;
        _publish = wrappers?.Publish(static p => p.Send(p));
        _services = services ?? Service.HandlerServices.None;
        _drainTimeout = drainTimeout;
        _maxPayload = maxPayload;
        _codecs = codecs;
        _system = system;
        _mediator = mediator;
        _onChange = onChange;
        var outgoing = _outgoing;
        outgoing.Actor = Service.MicroExtension.Get(system).Start(Props.Create(() => new PublisherActor(outgoing, mediator, registry)), "micro-publisher");
    }

    public Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckTopic(topic);
        ArgumentNullException.ThrowIfNull(message);
        options ??= PublishOptions.Default;
        var headers = Metadata.MetadataContext.Outgoing(options.Headers ?? NoHeaders, options.PropagateMetadata);
        return _publish?.Current is not { } publish
            ? PublishCoreAsync(topic, message, options, headers, cancellationToken)
            : Wrappers.PublishContext.Run(publish, topic, message, options, headers, (t, m, o, h) => PublishCoreAsync(t, m, o, h, cancellationToken));
    }

    private async Task PublishCoreAsync(string topic, object message, PublishOptions options, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        var contentType = options.ContentType ?? _contentType;
        if (!_codecs.TryGet(contentType, out var codec))
            throw MicroError.BadRequest("micro.broker", $"no codec for content type '{contentType}'; known: {string.Join(", ", _codecs.ContentTypes.Order())}").ToException();
        var native = Codecs.IsNative(contentType);
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(message.GetType());
        byte[] data;
        try { data = message is byte[] raw && !native ? raw : codec.Encode(message); }
        catch (Exception ex) { throw MicroError.BadRequest("micro.broker", $"the event cannot be written as {contentType}: {ex.Message}").ToException(); }
        if (!native && options.MessageType is { } type) headers = headers.ToImmutableDictionary().SetItem(MessageTypeHeader, type);
        var size = data.Length + WireSize.Headers(headers);
        if (size > _maxPayload)
            throw MicroError.New("micro.broker", 413, $"the event is {size} bytes with its headers; one message carries at most {_maxPayload} bytes " +
                $"(raise {Config.MicroSettings.FrameSizeSetting} on every node, or publish less)").ToException();
        var e = new Event(topic, options.Id ?? Guid.NewGuid().ToString("N"), contentType, headers, DateTime.UtcNow, data);
        if (options.WaitForSubscribers is not { } wait)
        {
            _outgoing.Post(new PublisherActor.Outgoing(e, options.OnePerQueue));
            return;
        }
        // The mediator holds the event until a subscriber is known or the time is up.
        var answer = await _mediator.Ask<IPublishResponse>(new PublishWithAck(topic, e, wait, options.OnePerQueue),
            wait + TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
        if (answer is PublishFailed failed)
            throw MicroError.NotFound("micro.broker", failed.Reason == PublishFailReason.Timeout
                ? $"no subscriber of topic '{topic}' became known within {wait.TotalSeconds:0.###} s; event {e.Id} was not delivered"
                : $"this node is shutting down; event {e.Id} on topic '{topic}' was not delivered").ToException();
    }

    public Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null,
        CancellationToken cancellationToken = default) =>
        SubscribeAsync(new SubscriberSpec(topic, queue, typeof(T), (m, c) => handler((T)m, c), null), cancellationToken);

    internal async Task<ISubscription> SubscribeAsync(SubscriberSpec spec, CancellationToken cancellationToken = default)
    {
        CheckTopic(spec.Topic);
        if (spec.Queue is { } q && string.IsNullOrWhiteSpace(q)) throw new ArgumentException("A queue name cannot be blank", nameof(spec));
        if (_codecs.TryGet(HyperionCodec.MediaType, out var codec) && codec is HyperionCodec hyperion) hyperion.AllowList.Allow(spec.MessageType);
        var counters = new SubscriberCounters();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (codecs, mediator, services) = (_codecs, _mediator, _services);
        var pipeline = _wrappers?.Subscriber(spec.Topic, static e => e.Deliver(e));
        var group = spec.Queue ?? "~" + Guid.NewGuid().ToString("N");
        var actor = Service.MicroExtension.Get(_system).Start(Props.Create(() => new SubscriberActor(spec, group, counters, subscribed, codecs, mediator, services, pipeline)),
            $"micro-subscriber-{Interlocked.Increment(ref _next)}");
        try { await subscribed.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false); }
        catch (Exception)
        {
            _system.Stop(actor); // no half-made subscription left behind
            throw;
        }
        _onChange(spec.Info, true);
        Figures?.Subscribed(counters, spec.Topic, spec.Queue);
        Subscription? subscription = null;
        subscription = new Subscription(spec, actor, counters, () =>
        {
            _live.TryRemove(subscription!, out _);
            Figures?.Unsubscribed(counters);
            _onChange(spec.Info, false);
        }, _system, _drainTimeout);
        _live[subscription] = 0;
        return subscription;
    }

    /// <summary>
    /// Every live subscription of this node stops taking events; each finishes the event it is
    /// handling (within micro.server.drain-timeout). Part of a graceful stop.
    /// </summary>
    internal Task UnsubscribeAllAsync() => Task.WhenAll(_live.Keys.Select(s => s.UnsubscribeAsync()));

    public async Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckTopic(topic);
        var deadline = DateTime.UtcNow + timeout;
        var escaped = Uri.EscapeDataString(topic);
        while (true)
        {
            var topics = await _mediator.Ask<CurrentTopics>(GetTopics.Instance, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            if (topics.Topics.Contains(topic) || topics.Topics.Contains(escaped)) return;
            if (DateTime.UtcNow >= deadline)
                throw MicroError.Timeout("micro.broker", $"no subscriber of topic '{topic}' became known within {timeout.TotalSeconds:0.###} s").ToException();
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The node's figures, where its subscriptions' counts are read.</summary>
    internal Observability.NodeFigures? Figures { get; init; }

    private static void CheckTopic(string topic)
    {
        if (string.IsNullOrWhiteSpace(topic) || topic.Contains('/'))
            throw MicroError.BadRequest("micro.broker", $"'{topic}' is not a topic name: use a word like \"orders\" (no '/')").ToException();
    }

    private sealed class Subscription(SubscriberSpec spec, IActorRef actor, SubscriberCounters counters, Action removed,
        ActorSystem system, TimeSpan drainTimeout) : ISubscription
    {
        private int _stopped;
        public string Topic => spec.Topic;
        public string? Queue => spec.Queue;
        public long Received => Interlocked.Read(ref counters.Received);
        public long Failed => Interlocked.Read(ref counters.Failed);

        public async Task UnsubscribeAsync()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            actor.Tell((SubscriberActor.Stop.Instance, done));
            try { await done.Task.WaitAsync(drainTimeout).ConfigureAwait(false); }
            catch (TimeoutException)
            {
                // Events are handled one at a time: a handler that never finishes holds the unsubscribe
                // behind it. Past the drain timeout the subscriber stops anyway (the mediator drops it).
                system.Log.Warning("The subscriber of topic {Topic} did not finish its event within {Seconds:0.###} s (micro.server.drain-timeout); " +
                    "it is stopped, its handler left running", spec.Topic, drainTimeout.TotalSeconds);
                var stopped = actor.WatchAsync();
                system.Stop(actor);
                // A stop is a system message: taken at once while an async handler awaits, but a handler that
                // blocks its thread holds it. Should it not end, the unsubscribe (often a DisposeAsync) says so
                // in the log rather than throw.
                try { await stopped.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
                catch (TimeoutException) { system.Log.Error("The subscriber of topic {Topic} did not stop within 10 s of being told to", spec.Topic); }
            }
            finally { removed(); }
        }

        public async ValueTask DisposeAsync() => await UnsubscribeAsync().ConfigureAwait(false);
    }
}
