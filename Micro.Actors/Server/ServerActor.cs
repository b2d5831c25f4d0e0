using Micro.Actors.Batching;
using Akka.Actor;
using Akka.Event;
using System.Diagnostics;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Service;

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

    /// <summary>Sent by a <see cref="ReplyRef"/> when its request is done: the handler is free, and here is the answer if the server is to send it.</summary>
    public sealed record HandlerFree(IActorRef Handler, ReplyRef Reply, IActorRef? Caller = null, Response? Response = null);

    /// <summary>From the queue of freed handlers: requests are done.</summary>
    private sealed class DrainFreed
    {
        public static readonly DrainFreed Instance = new();
    }

    /// <summary>Sent to itself: every message queued before it has been taken, so the answers waiting go now.</summary>
    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    /// <summary>Answers waiting for the next flush, per caller.</summary>
    private readonly Outbox<Response> _outbox = new(r => (r.Body?.Length ?? 0) + (r.Error?.Detail?.Length * 3 ?? 0) + 128, b => new ResponseBatch(b));
    /// <summary>Answers in the outbox whose requests still count as in flight (a graceful stop waits until they leave).</summary>
    private int _counted;
    private bool _draining;
    private readonly BurstQueue<HandlerFree> _freed;

    /// <summary>Sent when a graceful stop has drained the node: from now on, requests get 503 (callers retry elsewhere).</summary>
    public sealed class StopAccepting
    {
        public static readonly StopAccepting Instance = new();
    }

    /// <summary>Who this node is, for Debug.Health and Debug.Stats.</summary>
    public sealed record NodeIdentity(string Service, string Version, string Node, DateTime StartedUtc);

    private sealed class CheckStuck
    {
        public static readonly CheckStuck Instance = new();
    }

    private sealed class Group(HandlerGroup spec, Wrappers.Pipeline<Wrappers.HandlerDelegate>? pipeline)
    {
        public HandlerGroup Spec { get; } = spec;
        /// <summary>The handler wrappers of this group; null: requests go straight to the handler.</summary>
        public Wrappers.Pipeline<Wrappers.HandlerDelegate>? Pipeline { get; } = pipeline;
        /// <summary>Who is idle, who is busy with what, and what waits: the decisions, on their own.</summary>
        public HandlerPool<IActorRef, Work, ReplyRef> Pool { get; set; } = null!;
        public int Live { get; set; }
        public int Spawned { get; set; }
        /// <summary>
        /// Actor handlers take requests one at a time from their mailbox, so one may be given several. A
        /// function runs beside its actor's mailbox: given several, it would run more than the pool size at once.
        /// </summary>
        public bool Prefetches { get; } = spec.Props.Type != typeof(FunctionHandler);
        /// <summary>Why handlers of this group cannot start, once one has failed in its constructor.</summary>
        public string? Broken { get; set; }
    }

    /// <summary>A checked request and its decoded message, on its way to a handler.</summary>
    private sealed record Work(Request Request, object Message, IActorRef? Caller, DateTime Deadline, ICodec Codec, EndpointCounters Counters,
        Gathering? Gathering);

    /// <summary>
    /// The answers to one <see cref="RequestBatch"/>: held until all are ready (or micro.server.answer-batch-wait
    /// has passed), so they go back in one message, as the requests came.
    /// </summary>
    internal sealed class Gathering(DateTime started)
    {
        public DateTime Started { get; } = started;
        /// <summary>Requests of the batch not answered yet.</summary>
        public int Open { get; set; }
        public List<(IActorRef Caller, Response Response, bool Counted)> Ready { get; } = [];
    }

    /// <summary>How long ready answers wait for the rest of their batch: a slow request must not hold up the fast ones.</summary>
    private readonly TimeSpan _holdFor;

    private sealed class LetGoHeld
    {
        public static readonly LetGoHeld Instance = new();
    }

    /// <summary>The batch being taken: the requests accepted now join it.</summary>
    private Gathering? _gathering;
    /// <summary>Batches with answers held.</summary>
    private readonly List<Gathering> _holding = [];

    private sealed record Route(EndpointSpec Spec, Group Group, EndpointCounters Counters);

    private static readonly TimeSpan StuckGrace = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Route> _routes = new(StringComparer.Ordinal);
    /// <summary>The counts of this node's streaming endpoints (kept by the stream server), for Debug.Stats.</summary>
    private readonly Observability.NodeFigures _figures;
    private readonly Dictionary<IActorRef, Group> _handlers = new();
    private readonly List<Group> _groups = [];
    private readonly TimeProvider _time;
    private bool _flushPending;
    private readonly HashSet<IActorRef> _retired = new();
    private readonly HashSet<IActorRef> _failedToStart = new();
    private readonly string _service;
    private readonly ServerState _state;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ReplyRef.Shared _replies;
    private readonly string _endpointList;
    private readonly Codecs _codecs;
    private readonly NodeIdentity _identity;
    private bool _stopping;
    private readonly HandlerServices _services;
    private readonly HandlerFailure _failures;

    public ITimerScheduler Timers { get; set; } = null!;

    public ServerActor(NodeIdentity identity, IReadOnlyList<HandlerGroup> groups, int defaultPoolSize, int queueLimit,
        ServerState state, Codecs codecs, int maxPayload, TimeSpan holdAnswers, Observability.NodeFigures figures,
        HandlerServices? services = null, Wrappers.WrapperOptions? wrappers = null, TimeProvider? time = null, bool errorDetails = false)
    {
        _time = time ?? TimeProvider.System;
        _failures = new HandlerFailure(_log, errorDetails);
        _services = services ?? HandlerServices.None;
        _figures = figures;
        _holdFor = holdAnswers;
        _identity = identity;
        _service = identity.Service;
        _codecs = codecs;
        _state = state;
        _freed = new BurstQueue<HandlerFree>(DrainFreed.Instance) { Actor = Self };
        _replies = new ReplyRef.Shared(((ExtendedActorSystem)Context.System).Provider, Self, state, _log, maxPayload, _freed);
        foreach (var spec in groups)
        {
            var group = new Group(spec, wrappers?.Handler(EndpointName.GroupOf(spec.Name)));
            group.Pool = new HandlerPool<IActorRef, Work, ReplyRef>(queueLimit, group.Prefetches, _time,
                (handler, work) => Start(group, handler, work), Expired);
            _groups.Add(group);
            for (var i = 0; i < (spec.PoolSize ?? defaultPoolSize); i++) group.Pool.Add(Spawn(group));
            foreach (var endpoint in spec.Endpoints) _routes[endpoint.Name] = new Route(endpoint, group, figures.Endpoint(endpoint.Name));
            figures.Queue(spec.Name, () => group.Pool.WaitingCount);
        }
        _endpointList = _routes.Count == 0 ? "(none)" : string.Join(", ", _routes.Keys.Order(StringComparer.Ordinal));

        Receive<Request>(r => OnRequest(r, Sender));
        Receive<RequestBatch>(b =>
        {
            _gathering = new Gathering(Now);
            foreach (var r in b.Requests) OnRequest(r, Sender);
            _gathering = null;
        });
        Receive<DrainFreed>(_ =>
        {
            // Answers that were ready together leave together: one message per caller.
            _draining = true;
            foreach (var free in _freed.TakeAll()) OnHandlerFree(free);
            LetGoAged();
            _draining = false;
            SendOutbox();
        });
        Receive<Flush>(_ => { _flushPending = false; SendOutbox(); });
        Receive<CheckStuck>(_ => RetireStuckHandlers());
        Receive<LetGoHeld>(_ =>
        {
            _draining = true;
            LetGoAged();
            _draining = false;
            SendOutbox();
        });
        Receive<Terminated>(t => OnHandlerStopped(t.ActorRef));
        Receive<StopAccepting>(_ => _stopping = true);
    }

    /// <summary>
    /// Answers that arrive after the server has stopped cannot leave; they must not keep a graceful
    /// stop waiting for them either. Callers retry elsewhere or end at their deadline.
    /// </summary>
    protected override void PostStop()
    {
        foreach (var held in _holding.ToList()) LetGo(held);
        SendOutbox();
        _freed.Close(free =>
        {
            if (free.Response is null) return;
            free.Caller?.Tell(free.Response); // no batching any more, but the answer still goes
            _state.Finished();
        });
        foreach (var reply in _groups.SelectMany(g => g.Pool.Given).ToList())
            reply.Fail(MicroError.ServiceUnavailable(_service, $"node {_identity.Node} stopped while handling {reply.Context.Endpoint}; try another node"));
        // Work the handlers never got: 503, so callers retry elsewhere rather than wait for their deadline.
        foreach (var group in _groups)
            foreach (var work in group.Pool.TakeWaiting())
            {
                _state.Finished();
                if (!work.Request.OneWay)
                    work.Caller?.Tell(new Response(work.Request.Id, null, MicroError.ServiceUnavailable(_service, $"node {_identity.Node} stopped; try another node")));
            }
    }

    /// <summary>
    /// A handler that throws is restarted (its call was already answered with an error). One whose
    /// constructor throws is stopped: restarting it would only fail again.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new HandlerSupervision(e =>
        {
            if (e is not ActorInitializationException init) return Directive.Restart;
            if (init.Actor is { } actor) _failedToStart.Add(actor);
            return Directive.Stop;
        });

    /// <summary>
    /// Akka's supervision, without its own log line for a failure the handler already logged under an error id
    /// (one failure, one line: the one with the id its caller was given) or threw on purpose.
    /// </summary>
    private sealed class HandlerSupervision(Func<Exception, Directive> decider) : OneForOneStrategy(-1, Timeout.InfiniteTimeSpan, decider)
    {
        protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
        {
            if (directive == Directive.Restart && HandlerFailure.Reported(cause)) return;
            base.LogFailure(context, child, cause, directive);
        }
    }

    private IActorRef Spawn(Group group)
    {
        var handler = Context.ActorOf(group.Spec.Props, $"{Uri.EscapeDataString(group.Spec.Name)}-{group.Spawned++}");
        Context.Watch(handler);
        _handlers[handler] = group;
        group.Live++;
        return handler;
    }

    private void OnRequest(Request request, IActorRef sender)
    {
        var caller = request?.OneWay == true ? ActorRefs.NoSender : sender;
        if (request is null) return; // a batch with a hole: nobody to answer
        // Whatever a peer sends, the door answers: a malformed envelope is a 400, never a crash.
        if (string.IsNullOrEmpty(request.Id) || string.IsNullOrEmpty(request.Endpoint) || string.IsNullOrEmpty(request.ContentType)
            || request.Headers is null || request.Body is null)
        {
            _log.Warning("Malformed request envelope from {Sender}: {Request}", sender, request);
            if (!request.OneWay)
                Send(caller, new Response(request.Id ?? "", null, MicroError.BadRequest(_service,
                    "malformed request envelope: id, endpoint, content type, headers and body are all required")), counted: false);
            return;
        }
        try { Accept(request, caller); }
        catch (Exception e)
        {
            _log.Error(e, "Request {RequestId} to {Endpoint} could not be handled", request.Id, request.Endpoint);
            Refuse(request, caller, MicroError.InternalServerError(_service, $"{request.Endpoint}: the server failed to take the request: {e.Message}"));
        }
    }

    private void Accept(Request request, IActorRef? caller)
    {
        if (!_codecs.TryGet(request.ContentType, out var codec))
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
        if (_stopping)
        {
            Refuse(request, caller, MicroError.ServiceUnavailable(_service, $"node {_identity.Node} is stopping; try another node"));
            return;
        }
        if (!_routes.TryGetValue(request.Endpoint, out var route))
        {
            Refuse(request, caller, MicroError.NotFound(_service,
                $"{_service} has no endpoint {request.Endpoint}; its endpoints are: {_endpointList}"));
            return;
        }
        object message;
        try { message = codec.Decode(request.Body, route.Spec.RequestType); }
        catch (CodecException e)
        {
            Refuse(request, caller, MicroError.BadRequest(_service, $"{request.Endpoint} takes a {route.Spec.RequestType.Name}: {e.Message}"));
            return;
        }
        var group = route.Group;
        if (group.Broken is { } broken && group.Live == 0)
        {
            Refuse(request, caller, MicroError.ServiceUnavailable(_service, $"{request.Endpoint} has no handler: {broken}"));
            return;
        }
        var work = new Work(request, message, caller, Now + request.Timeout, codec, route.Counters,
            request.OneWay ? null : _gathering);
        if (group.Pool.IsFull)
        {
            Refuse(request, caller, MicroError.ServiceUnavailable(_service,
                $"{_service} is overloaded: every {group.Spec.Name} handler is busy and {group.Pool.WaitingCount} requests are waiting; try another node or later"));
            return;
        }
        _state.Started(work.Deadline); // counted from here, so a graceful stop waits for queued requests too
        if (work.Gathering is { } gathering) gathering.Open++;
        group.Pool.Offer(work, work.Deadline);
    }

    /// <summary>The pool gives <paramref name="work"/> to <paramref name="handler"/>: it goes, with a reply ref as its sender.</summary>
    private ReplyRef Start(Group group, IActorRef handler, Work work)
    {
        var pipeline = group.Pipeline?.Current;
        var reply = new ReplyRef(_replies, new RequestContext(work.Request, work.Deadline, _failures, _services), work.Caller, handler,
            work.Codec, work.Counters)
        {
            Gathering = work.Gathering,
            Inner = pipeline is null ? null : new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        if (!Timers.IsTimerActive("stuck")) Timers.StartPeriodicTimer("stuck", CheckStuck.Instance, StuckGrace);
        if (pipeline is null) handler.Tell(work.Message, reply);
        else Wrapped(pipeline, handler, work, reply);
        return reply;
    }

    /// <summary>Queued work whose caller's deadline passed before a handler was free.</summary>
    private void Expired(Work work)
    {
        _state.Finished();
        Interlocked.Increment(ref work.Counters.Failed);
        Refuse(work.Request, work.Caller, MicroError.Timeout(_service, $"{work.Request.Endpoint}: the caller's deadline passed before a handler was free"), work.Gathering);
    }

    /// <summary>
    /// Runs the group's handler wrappers for one request, off this actor (a wrapper's code never holds the
    /// door); the innermost step gives the request to the handler reserved for it, and what the wrappers
    /// return is the answer that leaves.
    /// </summary>
    private void Wrapped(Wrappers.HandlerDelegate pipeline, IActorRef handler, Work work, ReplyRef reply)
    {
        var context = new Wrappers.HandlerContext(reply.Context, work.Message, work.Request.OneWay ? Wrappers.CallKind.OneWay : Wrappers.CallKind.Unary, _identity.Node)
        {
            Handler = c =>
            {
                c.Reached = true;
                handler.Tell(c.Message ?? work.Message, reply);
                return reply.Inner!.Task;
            },
        };
        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = RunWrapped(s.pipeline, s.context, s.reply, s.figures), (pipeline, context, reply, figures: _figures), preferLocal: false);
    }

    private static async Task RunWrapped(Wrappers.HandlerDelegate pipeline, Wrappers.HandlerContext context, ReplyRef reply, Observability.NodeFigures figures)
    {
        using var metadata = Metadata.MetadataContext.Enter(context.Request.Headers);
        object? body = null;
        MicroError? error = null;
        try { body = await pipeline(context).ConfigureAwait(false); }
        catch (Exception e)
        {
            error = reply.Context.ErrorOf(e); // a wrapper's own exception is logged here; the handler's came back as its error
            if (!context.Reached) figures.Rejected(error.Code); // a wrapper answered in the handler's place (a limit's 429, an auth 401)
        }
        reply.CompleteWrapped(body, error);
    }

    private void OnHandlerFree(HandlerFree free)
    {
        if (free is { Caller: { } caller, Response: { } response }) SendOrHold(caller, response, counted: true, free.Reply.Gathering);
        else if (free.Reply.Gathering is { } gathering) Settle(gathering, null); // answered straight, or one-way
        if (_handlers.TryGetValue(free.Handler, out var group) && group.Pool.Done(free.Handler, free.Reply) && !AnyBusy) Timers.Cancel("stuck");
    }

    private bool AnyBusy => _groups.Exists(g => g.Pool.BusyCount > 0);

    /// <summary>
    /// A handler that has not answered long after its caller stopped waiting is probably stuck for
    /// good: answer its call, stop it, and put a fresh one in its place, so its group keeps its size.
    /// </summary>
    private void RetireStuckHandlers()
    {
        foreach (var group in _groups)
        foreach (var (handler, replies) in group.Pool.TakeStuck(StuckGrace))
        {
            var context = replies[0].Context;
            _log.Warning("{Endpoint} request {RequestId}: the handler did not answer by the deadline; replacing it", context.Endpoint, context.Id);
            _retired.Add(handler);
            Context.Stop(handler);
            replies[0].Fail(MicroError.Timeout(_service, $"{context.Endpoint}: the handler did not answer by the deadline"));
            foreach (var behind in replies.Skip(1)) // given to it while it was stuck: another node may still answer in time
                behind.Fail(MicroError.ServiceUnavailable(_service, $"{behind.Context.Endpoint}: its handler got stuck on an earlier request; try again"));
            group.Pool.Add(Spawn(group));
        }
        if (!AnyBusy) Timers.Cancel("stuck");
    }

    /// <summary>A handler stopped: by us (stuck), by itself, or because it could not start.</summary>
    private void OnHandlerStopped(IActorRef handler)
    {
        if (!_handlers.Remove(handler, out var group)) return;
        group.Live--;
        if (_retired.Remove(handler)) return;
        var given = group.Pool.Remove(handler);
        if (_failedToStart.Remove(handler))
        {
            group.Broken = $"the {group.Spec.Props.Type.Name} actor fails in its constructor (see this node's log)";
            foreach (var r in given) r.Fail(MicroError.ServiceUnavailable(_service, $"{r.Context.Endpoint} has no handler: {group.Broken}"));
            if (group.Live > 0) return;
            foreach (var work in group.Pool.TakeWaiting())
            {
                _state.Finished();
                Refuse(work.Request, work.Caller, MicroError.ServiceUnavailable(_service, $"{work.Request.Endpoint} has no handler: {group.Broken}"), work.Gathering);
            }
            return;
        }
        _log.Warning("A {Group} handler stopped by itself; starting a new one", group.Spec.Name);
        foreach (var r in given) r.Fail(MicroError.InternalServerError(_service, $"{r.Context.Endpoint}: the handler stopped before it answered"));
        group.Pool.Add(Spawn(group));
    }

    private HealthReply Health() => new(_stopping ? "stopping" : "ok", _service, _identity.Version, _identity.Node);

    private StatsReply Stats()
    {
        using var process = Process.GetCurrentProcess();
        return new StatsReply(_service, _identity.Node, _identity.StartedUtc, Now - _identity.StartedUtc,
            process.WorkingSet64, process.Threads.Count, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            _figures.Endpoints.OrderBy(e => e.Endpoint, StringComparer.Ordinal)
                .Select(e => new EndpointStats(e.Endpoint, Interlocked.Read(ref e.Counters.Served), Interlocked.Read(ref e.Counters.Failed)))
                .ToList());
    }

    private void Answer(Request request, IActorRef? caller, ICodec codec, object body)
    {
        if (!request.OneWay) Send(caller, new Response(request.Id, codec.Encode(body), null), counted: false);
    }

    private void Refuse(Request request, IActorRef? caller, MicroError error, Gathering? gathering = null)
    {
        _figures.Rejected(error.Code);
        if (request.OneWay) _log.Warning("One-way request {RequestId} to {Endpoint} refused: {Error}", request.Id, request.Endpoint, error);
        else SendOrHold(caller, new Response(request.Id, null, error), counted: false, gathering);
    }

    /// <summary>An answer to a request of a batch waits for the rest of its batch; any other is sent.</summary>
    private void SendOrHold(IActorRef? caller, Response response, bool counted, Gathering? gathering)
    {
        if (gathering is not null && caller is not null && !caller.IsNobody()) Settle(gathering, (caller, response, counted));
        else Send(caller, response, counted);
    }

    /// <summary>One request of <paramref name="gathering"/> is done: its answer waits for the others, or they all go.</summary>
    private void Settle(Gathering gathering, (IActorRef Caller, Response Response, bool Counted)? answer)
    {
        gathering.Open--;
        if (answer is { } ready)
        {
            if (gathering.Ready.Count == 0) _holding.Add(gathering);
            gathering.Ready.Add(ready);
        }
        if (gathering.Open > 0 && Now - gathering.Started < _holdFor)
        {
            if (gathering.Ready.Count > 0 && !Timers.IsTimerActive("hold")) Timers.StartSingleTimer("hold", LetGoHeld.Instance, _holdFor);
            return;
        }
        LetGo(gathering);
    }

    private void LetGo(Gathering gathering)
    {
        if (gathering.Ready.Count == 0) return;
        _holding.Remove(gathering);
        foreach (var (caller, response, counted) in gathering.Ready) Send(caller, response, counted);
        gathering.Ready.Clear();
    }

    /// <summary>Answers held past the wait go (a slow request in their batch does not hold them up longer).</summary>
    private void LetGoAged()
    {
        if (_holding.Count == 0) return;
        var now = Now;
        foreach (var held in _holding.Where(g => now - g.Started >= _holdFor).ToList()) LetGo(held);
        if (_holding.Count > 0 && !Timers.IsTimerActive("hold")) Timers.StartSingleTimer("hold", LetGoHeld.Instance, _holdFor);
    }

    /// <summary>Queues an answer for the next flush, which sends all answers to one caller in one message.</summary>
    private void Send(IActorRef? caller, Response response, bool counted)
    {
        if (caller is null || caller.IsNobody())
        {
            if (counted) _state.Finished();
            return;
        }
        if (counted) _counted++;
        if (_outbox.Add(caller, response) && !_draining && !_flushPending) { _flushPending = true; Self.Tell(Flush.Instance); }
    }

    private void SendOutbox()
    {
        _outbox.Flush(Self);
        for (; _counted > 0; _counted--) _state.Finished();
    }

    /// <summary>The server's clock (deadlines, stuck handlers, held answers).</summary>
    private DateTime Now => _time.GetUtcNow().UtcDateTime;
}
