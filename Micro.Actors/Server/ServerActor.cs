using Akka.Actor;
using Akka.Event;
using System.Diagnostics;
using Micro.Actors.Codec;
using Micro.Actors.Errors;

namespace Micro.Actors.Server;

/// <summary>A handler group as registered: its actor, its endpoints and how many instances serve it.</summary>
internal sealed record HandlerGroup(string Name, Props Props, IReadOnlyList<EndpointSpec> Endpoints, int? PoolSize);

/// <summary>
/// The door of a node: takes every <see cref="Request"/>, checks it (endpoint, deadline, message
/// type) and gives it to an idle handler actor of its group, with a <see cref="ReplyRef"/> as sender.
/// A handler takes one request at a time and is idle again once it has answered, so a slow handler
/// holds one actor of its group, never the node (Akka's pools can't tell a busy actor from an idle
/// one: a handler awaiting in ReceiveAsync has an empty mailbox). When every handler of a group is
/// busy, requests wait in a bounded queue; past it, the caller gets 503 at once instead of memory
/// piling up.
/// </summary>
internal sealed class ServerActor : ReceiveActor, IWithTimers
{
    public const string Name = "micro-server";

    /// <summary>Sent by a <see cref="ReplyRef"/> when its request is done: the handler is free.</summary>
    public sealed record HandlerFree(IActorRef Handler, ReplyRef Reply);

    private sealed class CheckStuck
    {
        public static readonly CheckStuck Instance = new();
    }

    private sealed class Group(string name, int queueLimit)
    {
        public string Name { get; } = name;
        public int QueueLimit { get; } = queueLimit;
        public Stack<IActorRef> Idle { get; } = new();
        public Queue<Work> Waiting { get; } = new();
    }

    /// <summary>A checked request on its way to a handler.</summary>
    private sealed record Work(Request Request, IActorRef? Caller, DateTime Deadline, ICodec? Codec, EndpointCounters Counters);

    private sealed record Route(EndpointSpec Spec, Group Group, EndpointCounters Counters);

    /// <summary>Who this node is, for Debug.Health and Debug.Stats.</summary>
    public sealed record NodeIdentity(string Service, string Version, string Node, DateTime StartedUtc);

    private static readonly TimeSpan StuckGrace = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Route> _routes = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, (Group Group, ReplyRef Reply)> _busy = new();
    private readonly string _service;
    private readonly ServerState _state;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRefProvider _provider;
    private readonly string _endpointList;
    private readonly Codecs _codecs;
    private readonly NodeIdentity _identity;

    public ITimerScheduler Timers { get; set; } = null!;

    public ServerActor(NodeIdentity identity, IReadOnlyList<HandlerGroup> groups, int defaultPoolSize, int queueLimit,
        ServerState state, Codecs codecs)
    {
        _identity = identity;
        _service = identity.Service;
        _codecs = codecs;
        _state = state;
        _provider = ((ExtendedActorSystem)Context.System).Provider;
        foreach (var spec in groups)
        {
            var group = new Group(spec.Name, queueLimit);
            var size = spec.PoolSize ?? defaultPoolSize;
            for (var i = 0; i < size; i++)
                group.Idle.Push(Context.ActorOf(spec.Props, $"{Uri.EscapeDataString(spec.Name)}-{i}"));
            foreach (var endpoint in spec.Endpoints) _routes[endpoint.Name] = new Route(endpoint, group, new EndpointCounters());
        }
        _endpointList = _routes.Count == 0 ? "(none)" : string.Join(", ", _routes.Keys.Order(StringComparer.Ordinal));

        Receive<Request>(OnRequest);
        Receive<HandlerFree>(OnHandlerFree);
        Receive<CheckStuck>(_ => FreeStuckHandlers());
    }

    /// <summary>A handler that throws is restarted (its call was already answered with an error).</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, Timeout.InfiniteTimeSpan, _ => Directive.Restart);

    private void OnRequest(Request request)
    {
        var caller = request.OneWay ? ActorRefs.NoSender : Sender;
        ICodec? codec = null;
        if (!Codecs.IsNative(request.ContentType) && !_codecs.TryGet(request.ContentType, out codec))
        {
            Refuse(request, caller, MicroError.BadRequest(_service,
                $"content type '{request.ContentType}' is not spoken here; use one of: {string.Join(", ", _codecs.ContentTypes.Order())}"));
            return;
        }
        if (BuiltIn.IsBuiltIn(request.Endpoint))
        {
            Answer(request, caller, codec, request.Endpoint == BuiltIn.Health ? Health() : Stats());
            return;
        }
        if (!_routes.TryGetValue(request.Endpoint, out var route))
        {
            Refuse(request, caller, MicroError.NotFound(_service,
                $"{_service} has no endpoint {request.Endpoint}; its endpoints are: {_endpointList}"));
            return;
        }
        if (codec is not null)
        {
            if (request.Body is not byte[] data)
            {
                Refuse(request, caller, MicroError.BadRequest(_service, $"a {request.ContentType} request must carry bytes"));
                return;
            }
            try { request = request with { Body = codec.Decode(data, route.Spec.RequestType) }; }
            catch (CodecException e)
            {
                Refuse(request, caller, MicroError.BadRequest(_service, $"{request.Endpoint} takes a {route.Spec.RequestType.Name}: {e.Message}"));
                return;
            }
        }
        if (!route.Spec.RequestType.IsInstanceOfType(request.Body))
        {
            Refuse(request, caller, MicroError.BadRequest(_service,
                $"{request.Endpoint} takes {route.Spec.RequestType.Name}, not {request.Body?.GetType().Name ?? "nothing"}"));
            return;
        }
        var deadline = DateTime.UtcNow + request.Timeout;
        var group = route.Group;
        var work = new Work(request, caller, deadline, codec, route.Counters);
        if (group.Idle.TryPop(out var handler)) Dispatch(group, handler, work);
        else if (group.Waiting.Count < group.QueueLimit) group.Waiting.Enqueue(work);
        else
            Refuse(request, caller, MicroError.ServiceUnavailable(_service,
                $"{_service} is overloaded: every {group.Name} handler is busy and {group.Waiting.Count} requests are waiting; try another node or later"));
    }

    private void Dispatch(Group group, IActorRef handler, Work work)
    {
        var (request, caller, deadline) = (work.Request, work.Caller, work.Deadline);
        if (deadline <= DateTime.UtcNow)
        {
            group.Idle.Push(handler);
            Interlocked.Increment(ref work.Counters.Failed);
            Refuse(request, caller, MicroError.Timeout(_service, $"{request.Endpoint}: the caller's deadline passed before a handler was free"));
            return;
        }
        var reply = new ReplyRef(_provider, new RequestContext(request, deadline), caller, Self, handler, _state, _log, work.Codec, work.Counters);
        _busy[handler] = (group, reply);
        if (_busy.Count == 1 && !Timers.IsTimerActive("stuck"))
            Timers.StartPeriodicTimer("stuck", CheckStuck.Instance, StuckGrace);
        handler.Tell(request.Body, reply);
    }

    private void OnHandlerFree(HandlerFree free)
    {
        if (!_busy.TryGetValue(free.Handler, out var busy) || !ReferenceEquals(busy.Reply, free.Reply)) return;
        _busy.Remove(free.Handler);
        var group = busy.Group;
        if (group.Waiting.TryDequeue(out var next)) Dispatch(group, free.Handler, next);
        else group.Idle.Push(free.Handler);
        if (_busy.Count == 0) Timers.Cancel("stuck");
    }

    /// <summary>A handler that never answered is given back once its caller has long stopped waiting.</summary>
    private void FreeStuckHandlers()
    {
        var now = DateTime.UtcNow;
        foreach (var (handler, busy) in _busy.Where(b => b.Value.Reply.Context.Deadline + StuckGrace < now).ToList())
        {
            _log.Warning("{0} request {1}: the handler did not answer by the deadline", busy.Reply.Context.Endpoint, busy.Reply.Context.Id);
            busy.Reply.Fail(MicroError.Timeout(_service, $"{busy.Reply.Context.Endpoint}: the handler did not answer by the deadline"));
        }
    }

    private HealthReply Health() => new("ok", _service, _identity.Version, _identity.Node);

    private StatsReply Stats()
    {
        using var process = Process.GetCurrentProcess();
        return new StatsReply(_service, _identity.Node, _identity.StartedUtc, DateTime.UtcNow - _identity.StartedUtc,
            process.WorkingSet64, process.Threads.Count, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            _routes.OrderBy(r => r.Key, StringComparer.Ordinal)
                .Select(r => new EndpointStats(r.Key, Interlocked.Read(ref r.Value.Counters.Served), Interlocked.Read(ref r.Value.Counters.Failed)))
                .ToList());
    }

    private void Answer(Request request, IActorRef? caller, ICodec? codec, object body)
    {
        if (!request.OneWay) caller?.Tell(new Response(request.Id, codec is null ? body : codec.Encode(body), null), Self);
    }

    private void Refuse(Request request, IActorRef? caller, MicroError error)
    {
        if (request.OneWay) _log.Warning("One-way request {0} to {1} refused: {2}", request.Id, request.Endpoint, error);
        else caller?.Tell(new Response(request.Id, null, error), Self);
    }
}

/// <summary>Answers <see cref="GetDescriptor"/> with this node's descriptor, at a well-known path.</summary>
/// When the node's subscriptions change it says so on <see cref="Registry.DescriptorChanged.Topic"/>,
/// so that other nodes' registries fetch it again (Akka's pub/sub carries the news; no gossip of our own).
internal sealed class DescriptorActor : ReceiveActor
{
    public const string Name = "micro-descriptor";

    public sealed record SetSubscriptions(IReadOnlyList<Broker.SubscriptionInfo> Subscriptions);

    public DescriptorActor(Registry.NodeDescriptor descriptor)
    {
        var mediator = Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(Context.System).Mediator;
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        Receive<GetDescriptor>(_ => Sender.Tell(descriptor));
        Receive<SetSubscriptions>(s =>
        {
            descriptor = descriptor with { Subscriptions = s.Subscriptions };
            mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Publish(Registry.DescriptorChanged.Topic, new Registry.DescriptorChanged(self)));
        });
    }
}
