using System.Globalization;
using Micro.Actors.Broker;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Micro.Actors.Nats;

/// <summary>
/// One subscription: a JetStream consumer (a queue group's durable one, or one of its own) and the loop that
/// hands its events to the handler one at a time, then acks, retries or dead-letters each (see <see cref="Redelivery"/>).
/// </summary>
internal sealed class NatsSubscription<T>(NatsBroker broker, NatsBroker.Started n, string topic, SubscribeOptions options,
    Func<T, EventContext, Task> handler, Action<ISubscription> removed) : ISubscription
{
    private readonly CancellationTokenSource _stop = new();
    private readonly string _stream = n.Names.Stream(topic);
    private INatsJSConsumer? _consumer;
    private Task? _loop;
    private long _received, _failed;
    private int _stopped;

    public string Topic => topic;
    public string? Queue => options.Queue;
    public long Received => Interlocked.Read(ref _received);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The consumer's name: the queue group's, or the server's for one of its own.</summary>
    private string Name => _consumer?.Info.Name ?? "?";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _consumer = await ConsumerAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>A queue group's consumer is found (its position kept) or made; a subscriber of its own gets a new one.</summary>
    private async Task<INatsJSConsumer> ConsumerAsync(CancellationToken cancellationToken)
    {
        if (options.Queue is { } queue)
        {
            try { return await n.Js.GetConsumerAsync(_stream, NatsNames.Consumer(queue), cancellationToken).ConfigureAwait(false); }
            catch (NatsJSApiException e) when (e.Error.Code == 404) { }
        }
        var config = options.Queue is { } q ? new ConsumerConfig(NatsNames.Consumer(q)) { DurableName = NatsNames.Consumer(q) } : new ConsumerConfig { InactiveThreshold = TimeSpan.FromSeconds(30) };
        config.AckPolicy = ConsumerConfigAckPolicy.Explicit;
        config.AckWait = n.Settings.HandlerTimeout + TimeSpan.FromSeconds(2); // past it the server delivers again (the handler's node died)
        config.MaxDeliver = -1; // counted here: past max-attempts an event is a dead letter, not silently dropped
        // No filter: a topic's stream holds its one subject.
        config.DeliverPolicy = options.From.Kind switch
        {
            StartKind.All => ConsumerConfigDeliverPolicy.All,
            StartKind.Time => ConsumerConfigDeliverPolicy.ByStartTime,
            _ => ConsumerConfigDeliverPolicy.New,
        };
        if (options.From.Kind == StartKind.Time) config.OptStartTime = new DateTimeOffset(options.From.SinceUtc, TimeSpan.Zero);
        return await n.Js.CreateOrUpdateConsumerAsync(_stream, config, cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Pulls expire in 5 s and the server beats every 2 s: after a server restart the pull is renewed within seconds, not 30.
                var consume = new NatsJSConsumeOpts { MaxMsgs = n.Settings.Prefetch, Expires = TimeSpan.FromSeconds(5), IdleHeartbeat = TimeSpan.FromSeconds(2) };
                await foreach (var msg in _consumer!.ConsumeAsync(NatsRawSerializer<byte[]>.Default, consume, _stop.Token).ConfigureAwait(false))
                    await HandleAsync(msg).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                // The server went away or lost the consumer: the connection reconnects by itself; take the consumer again.
                n.Node.Log.LogWarning("The subscription of topic {Topic} lost its NATS consumer ({Error}); it takes it again in 1 s", topic, e.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                    _consumer = await ConsumerAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
                catch (Exception again) { n.Node.Log.LogDebug("Taking the consumer of topic {Topic} again failed: {Error}", topic, again.Message); }
            }
        }
    }

    private async Task HandleAsync(INatsJSMsg<byte[]> msg)
    {
        Interlocked.Increment(ref _received);
        var delivery = (int)(msg.Metadata?.NumDelivered ?? 1);
        var headers = Headers(msg.Headers);
        var id = headers.Event.GetValueOrDefault(NatsBroker.IdHeader) ?? $"{_stream}:{msg.Metadata?.Sequence.Stream}";
        if (n.Redelivery.Before(delivery) is { } early)
        {
            await SettleAsync(msg, early, id, delivery).ConfigureAwait(false);
            return;
        }
        var contentType = headers.Event.GetValueOrDefault(NatsBroker.ContentTypeHeader) ?? n.Settings.ContentType;
        if (typeof(T) != typeof(byte[]) && headers.Metadata.TryGetValue(PubSubBroker.MessageTypeHeader, out var named) && named != typeof(T).Name && named != typeof(T).FullName)
        {
            await SettleAsync(msg, new Outcome.Skip($"a {named}, not a {typeof(T).Name}"), id, delivery).ConfigureAwait(false);
            return;
        }
        object message;
        try { message = n.Node.Decode(msg.Data ?? [], contentType, typeof(T)); }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failed);
            await SettleAsync(msg, Redelivery.Unreadable($"{e.Message} (as {typeof(T).Name} from {contentType})"), id, delivery).ConfigureAwait(false);
            return;
        }
        var published = DateTime.TryParse(headers.Event.GetValueOrDefault(NatsBroker.PublishedHeader), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
            ? at : msg.Metadata?.Timestamp.UtcDateTime ?? DateTime.UtcNow;
        var context = n.Node.Event(topic, id, contentType, headers.Metadata, published, options.Queue);
        Exception? failure = null;
        try
        {
            Task task;
            using (n.Node.BeginLogScope(context))
            {
                try { task = handler((T)message, context); }
                catch (Exception e) { task = Task.FromException(e); }
            }
            await task.WaitAsync(n.Settings.HandlerTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            failure = new TimeoutException($"the handler did not finish within {NatsSettings.Invariant(n.Settings.HandlerTimeout)} s (micro.nats.handler-timeout)");
        }
        catch (Exception e) { failure = e; }
        finally { BrokerNode.End(context); }
        if (failure is not null)
        {
            Interlocked.Increment(ref _failed);
            n.Node.Log.LogError(failure, "Subscriber of topic {Topic} failed on event {EventId} (attempt {Attempt} of {MaxAttempts}): {Error}",
                topic, id, delivery, n.Settings.MaxAttempts, failure.Message);
        }
        await SettleAsync(msg, n.Redelivery.After(delivery, failure), id, delivery).ConfigureAwait(false);
    }

    private async Task SettleAsync(INatsJSMsg<byte[]> msg, Outcome outcome, string id, int delivery)
    {
        try
        {
            switch (outcome)
            {
                case Outcome.Ack or Outcome.Skip:
                    await msg.AckAsync().ConfigureAwait(false);
                    break;
                case Outcome.Retry retry:
                    await msg.NakAsync(new AckOpts { NakDelay = retry.After }).ConfigureAwait(false);
                    break;
                case Outcome.DeadLetter dead:
                    await DeadLetterAsync(msg, dead.Reason, id, delivery).ConfigureAwait(false);
                    await msg.AckAsync().ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e)
        {
            // Unsettled, the event comes again after the ack wait: nothing is lost.
            n.Node.Log.LogWarning("Event {EventId} of topic {Topic} could not be settled ({Outcome}): {Error}; it is delivered again after its ack wait", id, topic, outcome.GetType().Name, e.Message);
        }
    }

    /// <summary>The event, as it was, on the dead-letter topic, with why, from where and after how many attempts.</summary>
    private async Task DeadLetterAsync(INatsJSMsg<byte[]> msg, string reason, string id, int delivery)
    {
        var deadTopic = NatsNames.DeadLetterTopic(topic);
        var headers = new NatsHeaders();
        foreach (var (key, value) in msg.Headers ?? []) if (!key.StartsWith("Nats-", StringComparison.Ordinal)) headers[key] = value;
        headers[NatsBroker.DeadReasonHeader] = reason;
        headers[NatsBroker.DeadTopicHeader] = topic;
        headers[NatsBroker.DeadQueueHeader] = options.Queue ?? Name;
        headers[NatsBroker.DeadAttemptsHeader] = delivery.ToString(CultureInfo.InvariantCulture);
        await broker.EnsureStreamAsync(n, deadTopic, CancellationToken.None).ConfigureAwait(false);
        // One dead letter per event and consumer, even when this is retried after a crash.
        var ack = await n.Js.PublishAsync(n.Names.Subject(deadTopic), msg.Data ?? [], NatsRawSerializer<byte[]>.Default,
            new NatsJSPubOpts { MsgId = $"{id}:{options.Queue ?? Name}" }, headers).ConfigureAwait(false);
        if (!ack.IsSuccess() && !ack.Duplicate) ack.EnsureSuccess();
        n.Node.Log.LogWarning("Event {EventId} of topic {Topic} went to {DeadTopic}: {Reason}", id, topic, deadTopic, reason);
    }

    /// <summary>The publisher's metadata (what the handler reads) apart from what this broker keeps beside it.</summary>
    private static (Dictionary<string, string> Metadata, Dictionary<string, string> Event) Headers(NatsHeaders? headers)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in headers ?? [])
        {
            if (key.StartsWith("Nats-", StringComparison.Ordinal)) continue;
            if (key is NatsBroker.ContentTypeHeader or NatsBroker.IdHeader or NatsBroker.PublishedHeader) own[key] = value.ToString();
            else metadata[key] = value.ToString();
        }
        return (metadata, own);
    }

    public async Task UnsubscribeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _stop.Cancel();
        try
        {
            if (_loop is { } loop)
            {
                try { await loop.WaitAsync(n.Settings.HandlerTimeout).ConfigureAwait(false); }
                catch (TimeoutException) { n.Node.Log.LogWarning("The subscriber of topic {Topic} did not finish its event within {Seconds} s; it is left running", topic, NatsSettings.Invariant(n.Settings.HandlerTimeout)); }
            }
            // A consumer of its own goes with it; a queue group's stays, with its position, for the next member.
            if (options.Queue is null && _consumer is { } consumer)
            {
                try { await n.Js.DeleteConsumerAsync(_stream, consumer.Info.Name).ConfigureAwait(false); }
                catch (Exception e) { n.Node.Log.LogDebug("The consumer {Consumer} of topic {Topic} was not deleted: {Error}", consumer.Info.Name, topic, e.Message); }
            }
        }
        finally { removed(this); } // _stop is not disposed: a handler left running may still read its token
    }

    public async ValueTask DisposeAsync() => await UnsubscribeAsync().ConfigureAwait(false);
}
