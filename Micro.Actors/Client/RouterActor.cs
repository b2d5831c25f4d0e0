using Micro.Actors.Batching;
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
    public sealed record Call(Request Request, CallOptions Options, DateTime DeadlineUtc, TaskCompletionSource<byte[]?> Completion)
    {
        /// <summary>The call as the client wrappers left it (their headers and items); null without client wrappers.</summary>
        public Wrappers.CallContext? Context { get; set; }

        /// <summary>The types the caller's code sends and expects, checked against the endpoint's descriptor; null: only the kind of call is checked.</summary>
        public CallShape? Shape { get; init; }
    }

    public sealed record Cancel(string RequestId);

    /// <summary>From the call queue (<see cref="BurstQueue{T}"/>): calls are waiting.</summary>
    public sealed class Drain
    {
        public static readonly Drain Instance = new();
    }

    private sealed record Retry(string RequestId);

    /// <summary>From the call wrappers of an attempt: send it now, with these headers; its answer goes to <paramref name="Answer"/>.</summary>
    private sealed record SendAttempt(string RequestId, int Attempt, IReadOnlyDictionary<string, string> Headers, TaskCompletionSource<byte[]?> Answer);

    /// <summary>The call wrappers of an attempt have returned: this is the attempt's outcome.</summary>
    private sealed record AttemptEnded(string RequestId, int Attempt, byte[]? Body, MicroError? Error);

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
        private string? _firstTried;
        private HashSet<string>? _tried;

        /// <summary>The nodes tried so far (a set is made only when a call is retried: most calls try one node).</summary>
        public IReadOnlySet<string> Tried => _tried ?? (_firstTried is null ? NoneTried : _tried = [_firstTried]);

        public int TriedCount => _tried?.Count ?? (_firstTried is null ? 0 : 1);

        public void AddTried(string nodeId)
        {
            if (_tried is not null) _tried.Add(nodeId);
            else if (_firstTried is null || _firstTried == nodeId) _firstTried = nodeId;
            else _tried = [_firstTried, nodeId];
        }
        /// <summary>Where it is now; null while waiting for the registry or for a retry.</summary>
        public ServiceNode? Node { get; set; }
        public bool AwaitingRetry { get; set; }
        /// <summary>The remote message that carried the current try (its first answer frees room in the window).</summary>
        public Flight? Flight { get; set; }
        public MicroError? LastError { get; set; }
        /// <summary>When the current try left (for the selector's feedback).</summary>
        public long TriedAt { get; set; }
        /// <summary>With call wrappers: where the current try's answer goes (the wrappers then say how the attempt ended).</summary>
        public TaskCompletionSource<byte[]?>? Wrapped { get; set; }
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

    private static readonly IReadOnlySet<string> NoneTried = new HashSet<string>();

    /// <summary>A time left this close to the one a request was made with is sent as it is.</summary>
    private static readonly TimeSpan SameTimeout = TimeSpan.FromMilliseconds(1);

    private const string DeadlineTimer = "deadlines";
    private const string PumpTimer = "pump";

    private readonly string _service;
    private readonly ClientDefaults _defaults;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Pending> _calls = new(StringComparer.Ordinal);
    private readonly Sidelines _sidelined;
    /// <summary>Nodes whose connections hold more than their send budget: no new call goes to them.</summary>
    private readonly Transport.Backlog _backlog = Transport.Backlog.For(Context.System);
    /// <summary>When the latest call went to each node: logged when a node is lost, so operators see how soon routing stopped.</summary>
    private readonly Dictionary<string, (DateTime At, ServiceNode Node)> _lastSent = new(StringComparer.Ordinal);
    /// <summary>Which nodes went quiet, and what a new view means for the calls on them.</summary>
    private readonly NodeWatch _watch;
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

    /// <summary>The call wrappers; null: each attempt goes straight to its node.</summary>
    private readonly Wrappers.Pipeline<Wrappers.CallDelegate>? _attempts;

    // The selection's questions, made once rather than as closures per call.
    private readonly Func<ServiceNode, bool> _isSidelined;
    private readonly Func<ServiceNode, bool> _isSidelinedOrSilent;
    private readonly Func<ServiceNode, bool> _isBacklogged;

    public RouterActor(string service, IActorRef registry, ClientDefaults defaults, BurstQueue<Call>? queue = null, Wrappers.WrapperOptions? wrappers = null)
    {
        _attempts = wrappers?.Call(static c => c.Send(c));
        _queue = queue;
        _service = service;
        _registry = registry;
        _defaults = defaults;
        _sidelined = new Sidelines(defaults.Sideline, defaults.Time);
        _watch = new NodeWatch(defaults.Time);
        _isSidelined = IsSidelined;
        _isSidelinedOrSilent = n => IsSidelined(n) || IsSilent(n);
        _isBacklogged = n => _backlog.IsOver(n.HostPort);

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
        Receive<Cancel>(c =>
        {
            if (!_calls.Remove(c.RequestId, out var p)) return;
            Counted(p);
            p.Call.Completion.TrySetCanceled();
        });
        Receive<CheckDeadlines>(_ => ExpireCalls());
        Receive<SendAttempt>(OnSendAttempt);
        Receive<AttemptEnded>(OnAttemptEnded);
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
        foreach (var p in _calls.Values)
        {
            Counted(p);
            p.Call.Completion.TrySetException(error);
        }
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
        var now = Now;
        var remaining = p.Call.DeadlineUtc - now;
        if (remaining <= TimeSpan.Zero) { Expire(p); return; }

        ServiceNode node;
        try
        {
            // A retry avoids silent nodes too: when several nodes are lost at once (a partition), the failure
            // detector names them one by one, and a call moved to the next one to be named would fail twice.
            var candidates = Selection.Narrow(_nodes, _serviceNames, _service, p.Request.Endpoint,
                p.Call.Options.Filters, p.Call.Options.Address, p.Tried, p.Attempts > 0 ? _isSidelinedOrSilent : _isSidelined);
            if (_backlog.Any) candidates = Selection.Sendable(candidates, _isBacklogged, _service, p.Request.Endpoint);
            if (candidates.Error is { } error)
            {
                // Until this node has joined and read every descriptor, "not found" may just mean "not yet".
                if (error.Code == 404 && !_view.IsSettled(_service)) { p.Node = null; return; }
                Complete(p, p.LastError ?? error);
                return;
            }
            node = (p.Call.Options.Selector ?? _defaults.Selector).Select(candidates.Nodes);
            if (p.Attempts == 0 && node.Endpoint(p.Request.Endpoint) is { } endpoint && CallShape.Problem(_service, endpoint, p.Request.OneWay, p.Call.Shape) is { } wrong)
            {
                Complete(p, wrong); // before anything leaves
                return;
            }
        }
        catch (Exception e) // a plugged-in selector or filter failed: this call fails, the router goes on
        {
            Complete(p, MicroError.InternalServerError("micro.client", $"selecting a node of {_service} failed: {e.GetType().Name}: {e.Message}"));
            return;
        }
        p.Node = node;
        p.Flight = null; // until it leaves
        p.Attempts++;
        p.AddTried(node.Id);
        _lastSent[node.Id] = (now, node);
        p.TriedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_attempts?.Current is { } attempts) { StartAttempt(attempts, p, node); return; }
        Send(node.Server, p.Attempts > 1 ? Retried(p.Request, p.Attempts) : p.Request, p);
        if (p.Request.OneWay) Complete(p, null, null);
    }

    /// <summary>A retry says which attempt it is, so the handler's wrappers can tell.</summary>
    private static Request Retried(Request request, int attempt)
    {
        var headers = new Dictionary<string, string>(request.Headers, StringComparer.Ordinal) { [Metadata.MetadataKeys.Attempt] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        return request with { Headers = headers };
    }

    /// <summary>Runs the call wrappers of one attempt on <paramref name="node"/>, off this actor; they hand the attempt back to be sent.</summary>
    private void StartAttempt(Wrappers.CallDelegate pipeline, Pending p, ServiceNode node)
    {
        var call = p.Call.Context ??= new Wrappers.CallContext(_service, p.Request.Endpoint, p.Request.Id,
            p.Request.OneWay ? Wrappers.CallKind.OneWay : Wrappers.CallKind.Unary, p.Request.ContentType, null, p.Call.DeadlineUtc, p.Request.Headers);
        var attempt = new Wrappers.CallContext(call, p.Attempts, node, p.Call.DeadlineUtc);
        if (p.Attempts > 1) attempt.Headers[Metadata.MetadataKeys.Attempt] = p.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (self, id, number) = (Self, p.Request.Id, p.Attempts);
        attempt.Send = c =>
        {
            var answer = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
            self.Tell(new SendAttempt(id, number, c.OutgoingHeaders, answer));
            return answer.Task;
        };
        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = RunAttempt(s.pipeline, s.attempt, s.self), (pipeline, attempt, self), preferLocal: false);
    }

    private static async Task RunAttempt(Wrappers.CallDelegate pipeline, Wrappers.CallContext attempt, IActorRef router)
    {
        try
        {
            var body = await pipeline(attempt).ConfigureAwait(false);
            router.Tell(new AttemptEnded(attempt.RequestId, attempt.Attempt, body, null));
        }
        catch (Exception e)
        {
            router.Tell(new AttemptEnded(attempt.RequestId, attempt.Attempt, null, MicroException.ToError(e, "micro.client")));
        }
    }

    private void OnSendAttempt(SendAttempt send)
    {
        if (!_calls.TryGetValue(send.RequestId, out var p) || p.Attempts != send.Attempt || p.Node is not { } node || p.AwaitingRetry)
        {
            send.Answer.TrySetException(MicroError.ServiceUnavailable("micro.client", $"attempt {send.Attempt} of this call is over (the call moved on or ended)").ToException());
            return;
        }
        p.Wrapped = send.Answer;
        Send(node.Server, p.Request with { Headers = send.Headers }, p);
        if (p.Request.OneWay) { p.Wrapped = null; send.Answer.TrySetResult(null); }
    }

    private void OnAttemptEnded(AttemptEnded ended)
    {
        if (!_calls.TryGetValue(ended.RequestId, out var p) || p.Attempts != ended.Attempt || p.AwaitingRetry) return; // the call moved on or ended
        p.Wrapped = null;
        if (Now > p.Call.DeadlineUtc) { Expire(p); return; }
        if (ended.Error is null)
        {
            if (p.Node is { } done) Mark(p, done, null);
            Complete(p, ended.Body, null);
        }
        else if (p.Node is { } node) Failed(p, node, ended.Error);
        else Complete(p, ended.Error);
    }

    /// <summary>Tells the selector how a try on <paramref name="node"/> went (go-micro's Mark); a selector that fails is not the call's problem.</summary>
    private void Mark(Pending p, ServiceNode node, MicroError? error)
    {
        try { (p.Call.Options.Selector ?? _defaults.Selector).Mark(node, error, System.Diagnostics.Stopwatch.GetElapsedTime(p.TriedAt)); }
        catch (Exception e) { _log.Warning("The selector of {Service} failed to take feedback: {Error}", _service, e.Message); }
    }

    private void OnResponse(Response response)
    {
        if (!_calls.TryGetValue(response.RequestId, out var p)) return; // answered already, or expired
        if (p.Node is { } from) _watch.Heard(from.Id);
        if (p.Flight is { } flight && Heard(flight) && !_draining) Pump(flight.Lane);
        // Past its deadline the call is over, even if the sweep has not seen it yet: no call outlives it.
        if (Now > p.Call.DeadlineUtc) { Expire(p); return; }
        if (p.Wrapped is { } wrapped)
        {
            if (response.Error is not null && (p.Node is null || !Sender.Equals(p.Node.Server))) return;
            p.Wrapped = null; // the wrappers hear it, then say how the attempt ended
            if (response.Error is null) wrapped.TrySetResult(response.Body);
            else wrapped.TrySetException(response.Error.ToException());
            return;
        }
        if (response.Error is null)
        {
            if (p.Node is { } node) Mark(p, node, null);
            Complete(p, response.Body, null);
            return;
        }
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

    /// <summary>The calls on the node that <paramref name="lane"/> goes to.</summary>
    private int OnNode(Lane lane)
    {
        var onNode = 0;
        foreach (var p in _calls.Values)
            if (p.Node is { } node && node.Server.Equals(lane.Server)) onNode++;
        return onNode;
    }

    private void PumpAll()
    {
        foreach (var lane in _lanes.Values) Pump(lane);
    }

    /// <summary>Sends what waits for the lane's node, as far as its window allows.</summary>
    private void Pump(Lane lane)
    {
        if (lane.Waiting.Count == 0) return;
        var now = Now;
        // A message not heard from for a while (its calls are slow, or lost) stops holding up the others.
        while (lane.Flights.TryPeek(out var oldest) && (oldest.Heard || now - oldest.SentAt > _defaults.HeardWithin))
        {
            Heard(oldest);
            lane.Flights.Dequeue();
        }
        // Beyond a few calls in flight, the calls made while a message to the node is on its way wait (Nagle's rule) and
        // leave together as soon as it is heard from, so batches grow with the load — or as soon as they are enough to
        // fill a message of their own.
        if (lane.Unheard >= 1 && LaneRule.Hold(lane.Unheard, _calls.Count, lane.Waiting.Count, LaneRule.NeedsOnNode(lane.Waiting.Count) ? OnNode(lane) : 0))
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
            // The time left goes with it; a call leaving within a millisecond of being made goes as it is (no copy).
            var left = p.Call.DeadlineUtc - now;
            batch.Add(request.Timeout - left < SameTimeout ? request : request with { Timeout = left });
        }
        lane.Waiting.Clear();
        if (batch.Count == 0) return;
        if (answered) // one-way calls get no answer to hear from: they take no room in the window
        {
            lane.Unheard++;
            lane.Flights.Enqueue(flight);
        }
        foreach (var part in Outbox<Request>.Cut(batch, r => r.Body.Length + WireSize.Headers(r.Headers) + 256))
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
        _sidelined.KeepOnly(view.Nodes.ContainsKey);
        _watch.KeepOnly(view.Nodes.ContainsKey);
        foreach (var (server, lane) in _lanes.Where(l => l.Value.Waiting.Count == 0 && !_nodes.Any(n => n.Server.Equals(l.Key))).ToList())
            _lanes.Remove(server); // its node has left
        foreach (var id in _lastSent.Keys.ToList())
        {
            if (!view.Nodes.TryGetValue(id, out var known)) Lost(id, "left the cluster");
            else if (known.Status == NodeStatus.Unreachable) Lost(id, "is unreachable");
            else if (known.Status == NodeStatus.Up && !IsSidelined(known)) _lost.Remove(id);
            if (!view.Nodes.ContainsKey(id)) _lastSent.Remove(id);
        }
        foreach (var p in _calls.Values.ToList())
        {
            if (p.Node is { } node)
            {
                if (NodeWatch.WhyMove(view, node) is { } why)
                    Failed(p, node, MicroError.ServiceUnavailable(_service, $"node {node.HostPort} {why} while handling {p.Request.Endpoint}"));
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
            _service, last.Node.HostPort, how, inFlight, last.At);
    }

    /// <summary>The try on <paramref name="node"/> failed: retry elsewhere if allowed and there is time.</summary>
    private void Failed(Pending p, ServiceNode node, MicroError error)
    {
        if (p.Wrapped is { } wrapped)
        {
            // The try's wrappers hear of the loss first; their outcome comes back as AttemptEnded.
            p.Wrapped = null;
            wrapped.TrySetException(error.ToException());
            return;
        }
        Mark(p, node, error);
        if (error.Code is 502 or 503 or 504) Sideline(node);
        var choice = RetryPlan.AfterFailure(error, p.RetriesLeft, p.Attempts, Now, p.Call.DeadlineUtc,
            p.Call.Options.RetryOn ?? _defaults.RetryOn, p.Call.Options.Backoff);
        if (!choice.Retry) { Complete(p, error); return; }
        var delay = choice.Delay;
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
        var now = Now;
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
        Counted(p);
        if (error is null) p.Call.Completion.TrySetResult(body);
        else p.Call.Completion.TrySetException(error.ToException());
    }

    /// <summary>However a call ends, its wrappers learn how many attempts it took, on how many nodes (before the caller resumes).</summary>
    private static void Counted(Pending p)
    {
        if (p.Call.Context is { } call) (call.Attempts, call.NodesTried) = (p.Attempts, p.TriedCount);
    }

    /// <summary>A call has been on its way to <paramref name="node"/> for a while, and nothing was heard from it since it left.</summary>
    private bool IsSilent(ServiceNode node)
    {
        foreach (var c in _calls.Values)
            if (c.Node?.Id == node.Id && c.Flight is { } f && _watch.IsSilent(node.Id, f.SentAt)) return true;
        return false;
    }

    private void Sideline(ServiceNode node) => _sidelined.Add(node.Id);

    private bool IsSidelined(ServiceNode node) => _sidelined.Contains(node.Id);

    /// <summary>The router's clock (the node's <see cref="TimeProvider"/>).</summary>
    private DateTime Now => _defaults.Time.GetUtcNow().UtcDateTime;
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

    /// <summary>How calls travel unless they name a content type (micro.client.content-type).</summary>
    public string ContentType { get; init; } = Codec.HyperionCodec.MediaType;

    /// <summary>The clock of deadlines, sidelining and batching (a fake one in tests).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
