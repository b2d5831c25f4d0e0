using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;

namespace Micro.Actors.Broker;

/// <summary>How a subscription handles its events: a function, or a child actor.</summary>
internal sealed record SubscriberSpec(string Topic, string? Queue, Type MessageType,
    Func<object, EventContext, Task>? Function, Props? Actor)
{
    /// <summary>A function subscriber's subscription through any broker (its message type known here).</summary>
    public Func<IBroker, CancellationToken, Task<ISubscription>>? Through { get; init; }

    public SubscriptionInfo Info => new(Topic, Queue, MessageType.FullName!);
}

/// <summary>Counts per subscription, for a later metrics endpoint.</summary>
internal sealed class SubscriberCounters
{
    public long Received;
    public long Failed;
}

/// <summary>
/// One subscription. It registers twice with the mediator: under its queue group (or a group of
/// its own when it has no queue), so that a grouped publish gives each queue one copy and each
/// queue-less subscriber its own; and under the plain topic, so that a broadcast reaches everyone.
/// </summary>
internal sealed class SubscriberActor : ReceiveActor
{
    public sealed class Stop
    {
        public static readonly Stop Instance = new();
    }

    private readonly SubscriberSpec _spec;
    private readonly SubscriberCounters _counters;
    private readonly TaskCompletionSource _subscribed;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _mediator;
    private readonly string _group;
    private IActorRef? _child;
    private int _acks;
    private TaskCompletionSource? _unsubscribed;

    private readonly Codec.Codecs _codecs;
    private readonly Service.HandlerServices _services;
    /// <summary>The subscriber wrappers of this topic; null: events go straight to the subscriber.</summary>
    private readonly Wrappers.Pipeline<Wrappers.EventDelegate>? _pipeline;

    /// <param name="group">The queue group, or one of its own: made by the caller so that a restart keeps it (a new one would leave the old registration behind).</param>
    public SubscriberActor(SubscriberSpec spec, string group, SubscriberCounters counters, TaskCompletionSource subscribed, Codec.Codecs codecs, IActorRef mediator,
        Service.HandlerServices services, Wrappers.Pipeline<Wrappers.EventDelegate>? pipeline = null)
    {
        _pipeline = pipeline;
        _services = services;
        _mediator = mediator;
        _codecs = codecs;
        _spec = spec;
        _counters = counters;
        _subscribed = subscribed;
        _group = group;

        Receive<SubscribeAck>(_ => { if (++_acks == 2) _subscribed.TrySetResult(); });
        Receive<UnsubscribeAck>(_ =>
        {
            if (--_acks > 0) return;
            if (_child is { } child)
            {
                // No new events come; the actor finishes the one it is on and those it was handed already
                // (a stop message waits behind them, and behind an async receive), then it stops.
                child.Tell(PoisonPill.Instance);
                return;
            }
            _unsubscribed?.TrySetResult();
            Context.Stop(Self);
        });
        Receive<Terminated>(t =>
        {
            if (_unsubscribed is null)
                _log.Error("The subscriber of topic {Topic} ({Actor}) stopped: its subscription ends", _spec.Topic, _spec.Actor?.Type.Name);
            _unsubscribed?.TrySetResult();
            Context.Stop(Self);
        });
        Receive<(Stop, TaskCompletionSource)>(m =>
        {
            _unsubscribed = m.Item2;
            _mediator.Tell(new Unsubscribe(_spec.Topic, Self, _group));
            _mediator.Tell(new Unsubscribe(_spec.Topic, Self));
        });
        Receive<MicroSubscriber.Failed>(f => Fail(f.Context, f.Cause));
        if (spec.Function is { } function)
        {
            Receive<Event>(e => Run(function, [e], 0));
            Receive<EventBatch>(b => Run(function, b.Events ?? [], 0));
        }
        else
        {
            Receive<Event>(Forward);
            Receive<EventBatch>(b => { foreach (var e in b.Events ?? []) Forward(e); });
        }
    }

    protected override void PreStart()
    {
        if (_spec.Actor is { } props) Context.Watch(_child = Context.ActorOf(props, "handler"));
        _mediator.Tell(new Subscribe(_spec.Topic, Self, _group));
        _mediator.Tell(new Subscribe(_spec.Topic, Self));
    }

    protected override void PostStop() => _unsubscribed?.TrySetResult();

    /// <summary>
    /// A subscriber actor that throws is restarted and goes on; its parent logs and counts. One whose
    /// constructor throws is stopped (restarting it would only fail again) and its subscription ends, logged.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, -1, e =>
        {
            if (e is not ActorInitializationException) return Directive.Restart;
            _log.Error(e.InnerException ?? e, "The subscriber actor {Actor} of topic {Topic} cannot be made: {Error}", _spec.Actor?.Type.Name, _spec.Topic, (e.InnerException ?? e).Message);
            return Directive.Stop;
        }, loggingEnabled: false);

    /// <summary>The event's message as this subscriber's type, decoding it if it came encoded; null (counted, logged) if it doesn't fit.</summary>
    private object? Accept(Event? e)
    {
        Interlocked.Increment(ref _counters.Received);
        if (e?.Headers is not null && e.Body is not null && e.ContentType is not null) return Decode(e, e.Body);
        _log.Warning("A malformed event on topic {Topic} (no headers, body or content type): skipped", _spec.Topic);
        Interlocked.Increment(ref _counters.Failed);
        return null;
    }

    private object? Decode(Event e, byte[] data)
    {
        var type = _spec.MessageType;
        if (type == typeof(byte[])) return data; // a raw subscriber (a tail, a bridge): every event, as it was encoded
        if (e.Headers.TryGetValue(PubSubBroker.MessageTypeHeader, out var named) && named != type.Name && named != type.FullName)
        {
            _log.Warning("Event {EventId} on topic {Topic} is a {MessageType}; this subscriber takes {Expected}: skipped", e.Id, e.Topic, named, type.Name);
            Interlocked.Increment(ref _counters.Failed);
            return null;
        }
        try
        {
            if (_codecs.TryGet(e.ContentType, out var codec)) return codec.Decode(data, type);
            _log.Warning("Event {EventId} on topic {Topic} is {ContentType}, which this node cannot read: skipped", e.Id, e.Topic, e.ContentType);
        }
        catch (Exception ex) // a codec's own failure too: the event is skipped and counted, the subscriber goes on
        {
            _log.Warning("Event {EventId} on topic {Topic} does not read as {MessageType}: {Error}", e.Id, e.Topic, type.Name, ex.Message);
        }
        Interlocked.Increment(ref _counters.Failed);
        return null;
    }

    /// <summary>
    /// Runs the subscriber function on <paramref name="events"/> from <paramref name="from"/> on. Calls
    /// that finish at once cost no task machinery; one that awaits holds the rest of the batch and this
    /// actor's next events until it is done (events are handled one at a time, in order).
    /// </summary>
    private void Run(Func<object, EventContext, Task> function, IReadOnlyList<Event> events, int from)
    {
        for (var i = from; i < events.Count; i++)
        {
            if (Start(function, events[i]) is not { } pending) continue;
            var next = i + 1;
            Akka.Dispatch.ActorTaskScheduler.RunTask(async () =>
            {
                await Finish(pending).ConfigureAwait(true);
                for (var j = next; j < events.Count; j++)
                    if (Start(function, events[j]) is { } later) await Finish(later).ConfigureAwait(true);
            });
            return;
        }
    }

    /// <summary>Starts the function on one event: null when it is already done (or failed, counted), else what it still runs.</summary>
    private (Task Task, EventContext Context)? Start(Func<object, EventContext, Task> function, Event e)
    {
        if (Accept(e) is not { } message) return null;
        var context = EventContext.Of(e, _spec.Queue, _services);
        Task task;
        using (context.BeginLogScope())
        using (Metadata.MetadataContext.Enter(context.Headers))
        {
            if (_pipeline?.Current is not { } pipeline)
            {
                try { task = function(message, context); }
                catch (Exception ex) { task = Task.FromException(ex); }
            }
            else
            {
                var call = new Wrappers.EventCall(context, message) { Deliver = c => function(c.Message, c.Event) };
                try { task = pipeline(call); }
                catch (Exception ex) { task = Task.FromException(ex); }
            }
        }
        if (!task.IsCompleted) return (task, context);
        if (!task.IsCompletedSuccessfully) Fail(context, task.Exception?.InnerException ?? new TaskCanceledException(task));
        context.End();
        return null;
    }

    private async Task Finish((Task Task, EventContext Context) pending)
    {
        try { await pending.Task.ConfigureAwait(true); }
        catch (Exception ex) { Fail(pending.Context, ex); }
        finally { pending.Context.End(); }
    }

    private void Forward(Event e)
    {
        if (Accept(e) is not { } message) return;
        var context = EventContext.Of(e, _spec.Queue, _services);
        if (_pipeline?.Current is not { } pipeline)
        {
            _child!.Tell(new MicroSubscriber.Delivery(context, message), Self);
            return;
        }
        // Started here, so wrappers that do not wait keep the events in order.
        var (child, self) = (_child!, Self);
        var call = new Wrappers.EventCall(context, message)
        {
            Deliver = c =>
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                child.Tell(new MicroSubscriber.Delivery(c.Event, c.Message) { Done = done }, self);
                return c.Delivered = done.Task;
            },
        };
        Task task;
        using (Metadata.MetadataContext.Enter(call.Event.Headers))
        {
            try { task = pipeline(call); }
            catch (Exception ex) { task = Task.FromException(ex); }
        }
        task.ContinueWith(t =>
        {
            // The subscriber's own failure is counted by its restart; a wrapper's here.
            if (t.Exception?.InnerException is { } cause && !(call.Delivered is { IsFaulted: true } d && d.Exception?.InnerException == cause)) Fail(call.Event, cause);
            if (call.Delivered is null) call.Event.End(); // short-circuited: the subscriber never had it
        }, TaskScheduler.Default);
    }

    private void Fail(EventContext? context, Exception cause)
    {
        Interlocked.Increment(ref _counters.Failed);
        _log.Error(cause, "Subscriber of topic {Topic} failed on event {EventId}: {Error}", _spec.Topic, context?.Id ?? "?", cause.Message);
    }
}
