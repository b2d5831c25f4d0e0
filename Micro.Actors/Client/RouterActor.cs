using Akka.Actor;
using Akka.Event;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Client;

/// <summary>
/// The caller's side of one target service (go-micro's selector + the retry loop of its client).
/// It keeps the service's nodes from the registry, picks one per call, and tracks every call in
/// flight per node, so that the moment a node turns unreachable (or its connection drops) those
/// calls are retried on another node instead of waiting out their deadline. Every call ends with
/// a reply or an error by its deadline.
/// </summary>
internal sealed class RouterActor : ReceiveActor, IWithTimers
{
    /// <summary>A call handed over by the client (local only: it carries the caller's completion).</summary>
    public sealed record Call(Request Request, CallOptions Options, DateTime DeadlineUtc, TaskCompletionSource<byte[]?> Completion);

    public sealed record Cancel(string RequestId);

    /// <summary>From the call queue (<see cref="Service.BurstQueue{T}"/>): calls are waiting.</summary>
    public sealed class Drain
    {
        public static readonly Drain Instance = new();
    }

    private sealed record Retry(string RequestId);

    private sealed class CheckDeadlines
    {
        public static readonly CheckDeadlines Instance = new();
    }

    /// <summary>Sent to itself while calls are held: a message not heard from in time must not hold them longer.</summary>
    private sealed class PumpLanes
    {
        public static readonly PumpLanes Instance = new();
    }

    /// <summary>A call between its arrival and its answer.</summary>
    private sealed class Pending(Call call, int retries)
    {
        public Call Call { get; } = call;
        public Request Request => Call.Request;
        public int RetriesLeft { get; set; } = retries;
        public int Attempts { get; set; }
        public HashSet<string> Tried { get; } = [];
        /// <summary>Where it is now; null while waiting for the registry or for a retry.</summary>
        public ServiceNode? Node { get; set; }
        public bool AwaitingRetry { get; set; }
        /// <summary>The remote message that carried the current try (its first answer frees room in the window).</summary>
        public Flight? Flight { get; set; }
        public MicroError? LastError { get; set; }
    }

    /// <summary>Calls waiting to go to one server, and the window of messages on their way to it.</summary>
    private sealed class Lane(IActorRef server)
    {
        public IActorRef Server { get; } = server;
        public List<(Request Request, Pending Pending, int Attempt)> Waiting { get; } = [];
        public Queue<Flight> Flights { get; } = new();
        public int Unheard { get; set; }
    }

    /// <summary>One remote message of calls; heard from once the first of its answers is back.</summary>
    private sealed class Flight(DateTime sentAt, Lane lane)
    {
        public DateTime SentAt { get; } = sentAt;
        public Lane Lane { get; } = lane;
        public bool Heard { get; set; }
    }

    private const string DeadlineTimer = "deadlines";
    private const string PumpTimer = "pump";

    private readonly string _service;
    private readonly ClientDefaults _defaults;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Pending> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTime> _sidelinedUntil = new(StringComparer.Ordinal);
    /// <summary>When the latest call went to each node: logged when a node is lost, so operators see how soon routing stopped.</summary>
    private readonly Dictionary<string, (DateTime At, string HostPort)> _lastSent = new(StringComparer.Ordinal);
    /// <summary>When each node last answered this router.</summary>
    private readonly Dictionary<string, DateTime> _lastHeard = new(StringComparer.Ordinal);
    /// <summary>A node with a call on its way this long, and no answer since, is not where a retry should go.</summary>
    internal static readonly TimeSpan SilentAfter = TimeSpan.FromMilliseconds(500);
    private readonly HashSet<string> _lost = new(StringComparer.Ordinal);
    private readonly IActorRef _registry;
    private RegistryView _view = RegistryView.Empty;
    private IReadOnlyList<ServiceNode> _nodes = [];
    private IReadOnlyCollection<string> _serviceNames = [];
    /// <summary>Per server: its window of remote messages and the requests waiting for room in it.</summary>
    private readonly Dictionary<IActorRef, Lane> _lanes = new();
    private bool _draining;
    private readonly BurstQueue<Call>? _queue;

    public ITimerScheduler Timers { get; set; } = null!;

    public RouterActor(string service, IActorRef registry, ClientDefaults defaults, BurstQueue<Call>? queue = null)
    {
        _queue = queue;
        _service = service;
        _registry = registry;
        _defaults = defaults;

        Receive<Call>(OnCall);
        Receive<Drain>(_ => DrainQueue());
        Receive<Response>(OnResponse);
        Receive<ResponseBatch>(b =>
        {
            _draining = true;
            foreach (var r in b.Responses) OnResponse(r);
            _draining = false;
            PumpAll();
        });
        Receive<RegistryView>(OnView);
        Receive<NodeSuspected>(OnSuspected);
        Receive<Retry>(r => { if (_calls.TryGetValue(r.RequestId, out var p) && p.AwaitingRetry) { p.AwaitingRetry = false; Dispatch(p); } });
        Receive<Cancel>(c => { if (_calls.Remove(c.RequestId, out var p)) p.Call.Completion.TrySetCanceled(); });
        Receive<CheckDeadlines>(_ => ExpireCalls());
        Receive<PumpLanes>(_ => PumpAll());
    }

    protected override void PreStart() => _registry.Tell(new RegistryActor.Subscribe(Self));

    protected override void PostStop()
    {
        // Calls handed over after this would wait for a router that is gone: they fail at once instead.
        var stopping = MicroError.ServiceUnavailable("micro.client", "this node is shutting down").ToException();
        _queue?.Close(call => call.Completion.TrySetException(stopping));
        FailAll(stopping);
    }

    /// <summary>
    /// A router that failed is restarted in place: its calls in flight fail (they were its state),
    /// but the queue stays open, so later calls to the service keep working (Akka's default would
    /// run PostStop and close it for good).
    /// </summary>
    protected override void PreRestart(Exception reason, object message) =>
        FailAll(MicroError.InternalServerError("micro.client", $"the router of {_service} failed ({reason.Message}); try again").ToException());

    /// <summary>Calls may have been signalled to the instance that failed: look again.</summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Self.Tell(Drain.Instance);
    }

    private void FailAll(Exception error)
    {
        foreach (var p in _calls.Values) p.Call.Completion.TrySetException(error);
        _calls.Clear();
    }

    /// <summary>Takes every waiting call; those bound for one node leave together.</summary>
    private void DrainQueue()
    {
        if (_queue is null) return;
        _draining = true;
        foreach (var call in _queue.TakeAll()) OnCall(call);
        _draining = false;
        PumpAll();
    }

    private void OnCall(Call call)
    {
        var pending = new Pending(call, call.Options.Retries ?? _defaults.Retries);
        _calls[call.Request.Id] = pending;
        if (!Timers.IsTimerActive(DeadlineTimer))
            Timers.StartPeriodicTimer(DeadlineTimer, CheckDeadlines.Instance, _defaults.DeadlineCheckInterval);
        Dispatch(pending);
    }

    private void Dispatch(Pending p)
    {
        var now = DateTime.UtcNow;
        var remaining = p.Call.DeadlineUtc - now;
        if (remaining <= TimeSpan.Zero) { Expire(p); return; }

        ServiceNode node;
        try
        {
            // A retry avoids silent nodes too: when several nodes are lost at once (a partition), the failure
            // detector names them one by one, and a call moved to the next one to be named would fail twice.
            var retrying = p.Attempts > 0;
            var candidates = Selection.Narrow(_nodes, _serviceNames, _service, p.Request.Endpoint,
                p.Call.Options.Filters, p.Call.Options.Address, p.Tried, n => IsSidelined(n, now) || (retrying && IsSilent(n, now)));
            if (candidates.Error is { } error)
            {
                // Until this node has joined and read every descriptor, "not found" may just mean "not yet".
                if (error.Code == 404 && !_view.IsSettled(_service)) { p.Node = null; return; }
                Complete(p, p.LastError ?? error);
                return;
            }
            node = (p.Call.Options.Selector ?? _defaults.Selector).Select(candidates.Nodes);
        }
        catch (Exception e) // a plugged-in selector or filter failed: this call fails, the router goes on
        {
            Complete(p, MicroError.InternalServerError("micro.client", $"selecting a node of {_service} failed: {e.GetType().Name}: {e.Message}"));
            return;
        }
        p.Node = node;
        p.Flight = null; // until it leaves
        p.Attempts++;
        p.Tried.Add(node.Id);
        _lastSent[node.Id] = (now, node.HostPort);
        Send(node.Server, p.Request, p);
        if (p.Request.OneWay) Complete(p, null, null);
    }

    private void OnResponse(Response response)
    {
        if (!_calls.TryGetValue(response.RequestId, out var p)) return; // answered already, or expired
        if (p.Node is { } from) _lastHeard[from.Id] = DateTime.UtcNow;
        if (p.Flight is { } flight && Heard(flight) && !_draining) Pump(flight.Lane);
        // Past its deadline the call is over, even if the sweep has not seen it yet: no call outlives it.
        if (DateTime.UtcNow > p.Call.DeadlineUtc) { Expire(p); return; }
        if (response.Error is null) { Complete(p, response.Body, null); return; }
        // An error from a node this call has already left behind says nothing about the current try.
        if (p.Node is null || !Sender.Equals(p.Node.Server)) return;
        Failed(p, p.Node, response.Error);
    }

    /// <summary>
    /// Adaptive batching (Nagle's rule, per node): with a few calls in flight each goes at once, so
    /// batching adds no latency. Beyond that, while a message to the node is unheard from (none of
    /// its answers back yet), the calls for that node wait and leave together the moment one is —
    /// so batches grow with the load instead of trickling out one call per message — or once they
    /// are half the calls on that node (a second full message, so the server is never idle waiting).
    /// </summary>
    private void Send(IActorRef server, Request request, Pending p)
    {
        if (!_lanes.TryGetValue(server, out var lane)) _lanes[server] = lane = new Lane(server);
        lane.Waiting.Add((request, p, p.Attempts));
        if (!_draining) Pump(lane);
    }

    /// <summary>Up to this many calls in flight (to the whole service), each goes at once: batching would only add latency.</summary>
    internal const int FewCalls = 4;

    /// <summary>
    /// Whether the calls held for a node leave although a message to it is unheard from: they do once they are
    /// half the calls on that node, and at least <see cref="FullMessage"/>. So a second full message travels while
    /// the server works on the first, without the load splitting into small messages.
    /// </summary>
    private bool EnoughToLeave(Lane lane)
    {
        if (lane.Waiting.Count < FullMessage) return false;
        var onNode = 0;
        foreach (var p in _calls.Values)
            if (p.Node is { } node && node.Server.Equals(lane.Server)) onNode++;
        return lane.Waiting.Count * 2 >= onNode;
    }

    /// <summary>The fewest held calls that leave without waiting for the message ahead to be heard from.</summary>
    internal const int FullMessage = 8;

    private void PumpAll()
    {
        foreach (var lane in _lanes.Values) Pump(lane);
    }

    /// <summary>Sends what waits for <paramref name="server"/>, as far as its window allows.</summary>
    private void Pump(Lane lane)
    {
        if (lane.Waiting.Count == 0) return;
        var now = DateTime.UtcNow;
        // A message not heard from for a while (its calls are slow, or lost) stops holding up the others.
        while (lane.Flights.TryPeek(out var oldest) && (oldest.Heard || now - oldest.SentAt > _defaults.HeardWithin))
        {
            Heard(oldest);
            lane.Flights.Dequeue();
        }
        // Beyond a few calls in flight, the calls made while a message to the node is on its way wait (Nagle's rule) and
        // leave together as soon as it is heard from, so batches grow with the load — or as soon as they are enough to
        // fill a message of their own.
        if (lane.Unheard >= 1 && _calls.Count > FewCalls && !EnoughToLeave(lane))
        {
            if (!Timers.IsTimerActive(PumpTimer)) Timers.StartSingleTimer(PumpTimer, PumpLanes.Instance, _defaults.HeardWithin);
            return;
        }
        var batch = new List<Request>(lane.Waiting.Count);
        var flight = new Flight(now, lane);
        var answered = false;
        foreach (var (request, p, attempt) in lane.Waiting)
        {
            // A call that moved on (retried elsewhere, answered, expired) while it waited does not go.
            if (!request.OneWay && (p.Attempts != attempt || p.AwaitingRetry || !_calls.ContainsKey(request.Id))) continue;
            p.Flight = flight;
            answered |= !request.OneWay;
            batch.Add(request with { Timeout = p.Call.DeadlineUtc - now });
        }
        lane.Waiting.Clear();
        if (batch.Count == 0) return;
        if (answered) // one-way calls get no answer to hear from: they take no room in the window
        {
            lane.Unheard++;
            lane.Flights.Enqueue(flight);
        }
        foreach (var part in Outbox<Request>.Cut(batch, r => r.Body.Length + MicroClient.HeaderBytes(r.Headers) + 256))
            lane.Server.Tell(part.Count == 1 ? part[0] : new RequestBatch(part), Self);
    }

    /// <summary>Marks the first answer of a message; true when that freed room in its window.</summary>
    private static bool Heard(Flight flight)
    {
        if (flight.Heard) return false;
        flight.Heard = true;
        flight.Lane.Unheard--;
        return true;
    }

    private void OnView(RegistryView view)
    {
        // Calls moved or sent because of this view leave together.
        _draining = true;
        try { TakeView(view); }
        finally { _draining = false; }
        PumpAll();
    }

    private void TakeView(RegistryView view)
    {
        _view = view;
        _nodes = view.NodesOf(_service);
        _serviceNames = view.ServiceNames;
        foreach (var gone in _sidelinedUntil.Keys.Where(id => !view.Nodes.ContainsKey(id)).ToList()) _sidelinedUntil.Remove(gone);
        foreach (var gone in _lastHeard.Keys.Where(id => !view.Nodes.ContainsKey(id)).ToList()) _lastHeard.Remove(gone);
        foreach (var (server, lane) in _lanes.Where(l => l.Value.Waiting.Count == 0 && !_nodes.Any(n => n.Server.Equals(l.Key))).ToList())
            _lanes.Remove(server); // its node has left
        foreach (var id in _lastSent.Keys.ToList())
        {
            if (!view.Nodes.TryGetValue(id, out var known)) Lost(id, "left the cluster");
            else if (known.Status == NodeStatus.Unreachable) Lost(id, "is unreachable");
            else if (known.Status == NodeStatus.Up && !IsSidelined(known, DateTime.UtcNow)) _lost.Remove(id);
            if (!view.Nodes.ContainsKey(id)) _lastSent.Remove(id);
        }
        foreach (var p in _calls.Values.ToList())
        {
            if (p.Node is { } node)
            {
                if (!view.Nodes.TryGetValue(node.Id, out var now))
                    Failed(p, node, MicroError.ServiceUnavailable(_service, $"node {node.HostPort} left the cluster while handling {p.Request.Endpoint}"));
                else if (now.Status == NodeStatus.Unreachable)
                    Failed(p, node, MicroError.ServiceUnavailable(_service, $"node {node.HostPort} became unreachable while handling {p.Request.Endpoint}"));
            }
            else if (!p.AwaitingRetry)
            {
                Dispatch(p); // was waiting for the registry
            }
        }
    }

    private void OnSuspected(NodeSuspected suspected)
    {
        _draining = true;
        try { Suspect(suspected); }
        finally { _draining = false; }
        PumpAll();
    }

    private void Suspect(NodeSuspected suspected)
    {
        foreach (var node in _nodes.Where(n => n.Address.Equals(suspected.Address)))
        {
            Sideline(node);
            Lost(node.Id, "dropped its connection");
            foreach (var p in _calls.Values.Where(p => p.Node?.Id == node.Id).ToList())
                Failed(p, node, MicroError.ServiceUnavailable(_service, $"connection to node {node.HostPort} dropped while handling {p.Request.Endpoint}"));
        }
    }

    /// <summary>Says once per loss that a node this router used is gone, and when the last call went to it.</summary>
    private void Lost(string nodeId, string how)
    {
        if (!_lastSent.TryGetValue(nodeId, out var last) || !_lost.Add(nodeId)) return;
        var inFlight = _calls.Values.Count(p => p.Node?.Id == nodeId);
        _log.Info("{Service}: node {Node} {What}; no more calls go to it ({InFlight} in flight move to other nodes; the last call went to it at {LastCall:HH:mm:ss.fff} UTC)",
            _service, last.HostPort, how, inFlight, last.At);
    }

    /// <summary>The try on <paramref name="node"/> failed: retry elsewhere if allowed and there is time.</summary>
    private void Failed(Pending p, ServiceNode node, MicroError error)
    {
        if (error.Code is 502 or 503 or 504) Sideline(node);
        var retryOn = p.Call.Options.RetryOn ?? _defaults.RetryOn;
        bool retry;
        try { retry = p.RetriesLeft > 0 && retryOn(error); }
        catch (Exception) { retry = false; } // a failing retry policy means no retry, not a dead router
        if (!retry) { Complete(p, error); return; }

        TimeSpan delay;
        try { delay = (p.Call.Options.Backoff ?? RetryPolicy.Exponential)(p.Attempts); }
        catch (Exception) { delay = RetryPolicy.Exponential(p.Attempts); }
        if (DateTime.UtcNow + delay >= p.Call.DeadlineUtc) { Complete(p, error); return; }
        p.RetriesLeft--;
        p.LastError = error;
        p.Node = null;
        _log.Debug("Retrying {Endpoint} {RequestId} after: {Error}", p.Request.Endpoint, p.Request.Id, error.Detail);
        if (delay <= TimeSpan.Zero) { Dispatch(p); return; }
        p.AwaitingRetry = true;
        Timers.StartSingleTimer("retry-" + p.Request.Id, new Retry(p.Request.Id), delay);
    }

    private void ExpireCalls()
    {
        var now = DateTime.UtcNow;
        foreach (var p in _calls.Values.Where(p => p.Call.DeadlineUtc <= now).ToList()) Expire(p);
        PumpAll();
        if (_calls.Count == 0) Timers.Cancel(DeadlineTimer);
    }

    private void Expire(Pending p)
    {
        var timeout = p.Request.Timeout;
        var where = p.Node is { } node ? $"node {node.HostPort} did not answer"
            : !_view.MembershipKnown ? _defaults.NotJoinedReason()
            : p.LastError is { } last ? $"last error: {last.Detail}"
            : "no node of it was found in time";
        Complete(p, MicroError.Timeout("micro.client",
            $"{_service} {p.Request.Endpoint} did not answer within {timeout.TotalSeconds:0.###} s: {where}"));
    }

    private void Complete(Pending p, MicroError error) => Complete(p, null, error);

    private void Complete(Pending p, byte[]? body, MicroError? error)
    {
        _calls.Remove(p.Request.Id);
        if (error is null) p.Call.Completion.TrySetResult(body);
        else p.Call.Completion.TrySetException(error.ToException());
    }

    /// <summary>A call has been on its way to <paramref name="node"/> for a while, and nothing was heard from it since it left.</summary>
    private bool IsSilent(ServiceNode node, DateTime now)
    {
        var heard = _lastHeard.GetValueOrDefault(node.Id, DateTime.MinValue);
        return _calls.Values.Any(c => c.Node?.Id == node.Id && c.Flight is { } f && now - f.SentAt > SilentAfter && heard < f.SentAt);
    }

    private void Sideline(ServiceNode node) => _sidelinedUntil[node.Id] = DateTime.UtcNow + _defaults.Sideline;

    private bool IsSidelined(ServiceNode node, DateTime now)
    {
        if (!_sidelinedUntil.TryGetValue(node.Id, out var until)) return false;
        if (until > now) return true;
        _sidelinedUntil.Remove(node.Id);
        return false;
    }
}

/// <summary>A node's client defaults, resolved from settings.</summary>
internal sealed record ClientDefaults(
    TimeSpan RequestTimeout,
    int Retries,
    ISelector Selector,
    TimeSpan Sideline,
    TimeSpan DeadlineCheckInterval,
    Func<MicroError, bool> RetryOn,
    Func<string> NotJoinedReason)
{
    /// <summary>A message to a node not heard from within this stops holding up the calls behind it (its calls are slow, or the node is gone).</summary>
    public TimeSpan HeardWithin { get; init; } = TimeSpan.FromMilliseconds(5);
}
