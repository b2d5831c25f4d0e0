using Micro.Actors.Batching;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Micro.Actors.Registry;
using Micro.Actors.Service;

namespace Micro.Actors.Broker;

/// <summary>
/// Takes the node's published events to the mediator. Events published while the previous burst is
/// still on its way leave together: one <see cref="EventBatch"/> per topic (in publishing order),
/// so the mediator routes, and the transport frames, once per batch. A lone event leaves alone.
/// A queue group would get a whole batch on one of its members, so a topic that the registry shows
/// with a named queue group anywhere is published event by event (its members share the work per
/// event, as go-micro's queues do); so is every topic until this node's registry view is known.
/// </summary>
internal sealed class PublisherActor : ReceiveActor
{
    /// <summary>An event on its way, and how it is to be published.</summary>
    public sealed record Outgoing(Event Event, bool OnePerQueue);

    /// <summary>From the queue (<see cref="BurstQueue{T}"/>): events are waiting.</summary>
    public sealed class Drain
    {
        public static readonly Drain Instance = new();
    }

    private readonly BurstQueue<Outgoing> _queue;
    private readonly IActorRef _mediator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _registry;
    private readonly Dictionary<(string Topic, bool OnePerQueue), List<Event>> _waiting = new();
    private IReadOnlySet<string>? _queuedTopics;

    public PublisherActor(BurstQueue<Outgoing> queue, IActorRef mediator, IActorRef registry)
    {
        _queue = queue;
        _mediator = mediator;
        _registry = registry;
        Receive<Drain>(_ => Publish());
        Receive<NodeSuspected>(_ => { }); // the mediator's routing hears of suspects itself (AvoidingRoutingLogic)
        Receive<RegistryView>(view => _queuedTopics = view.Nodes.Values
            .SelectMany(n => n.Subscriptions).Where(s => s.Queue is not null).Select(s => s.Topic).ToHashSet(StringComparer.Ordinal));
    }

    protected override void PreStart() => _registry.Tell(new RegistryActor.Subscribe(Self));

    private void Publish()
    {
        foreach (var (e, onePerQueue) in _queue.TakeAll())
        {
            if (!_waiting.TryGetValue((e.Topic, onePerQueue), out var events)) _waiting[(e.Topic, onePerQueue)] = events = [];
            events.Add(e);
        }
        foreach (var ((topic, onePerQueue), events) in _waiting)
        {
            if (onePerQueue && _queuedTopics?.Contains(topic) != false)
                foreach (var e in events) _mediator.Tell(new Publish(topic, e, true));
            else
                foreach (var batch in Outbox<Event>.Cut(events, SizeOf))
                    _mediator.Tell(new Publish(topic, batch.Count == 1 ? batch[0] : new EventBatch(batch), onePerQueue));
        }
        _waiting.Clear(); // topics come and go: keep nothing between bursts
    }

    private static int SizeOf(Event e) => e.Body.Length + WireSize.Headers(e.Headers) + 256;

    /// <summary>A failure restarts this actor in place, queue open (Akka's default would run PostStop and close it for good).</summary>
    protected override void PreRestart(Exception reason, object message) => _waiting.Clear();

    /// <summary>The restarted instance looks again: a signal may have gone to the one that failed.</summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Self.Tell(Drain.Instance);
    }

    /// <summary>The node is stopping: what is still waiting cannot be published, and says so.</summary>
    protected override void PostStop()
    {
        var log = _log;
        _queue.Close(o => log.Warning("Event {EventId} on topic {Topic} was not published: this node is shutting down", o.Event.Id, o.Event.Topic));
    }
}
