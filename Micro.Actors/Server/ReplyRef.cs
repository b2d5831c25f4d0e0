using Micro.Actors.Batching;
using Akka.Actor;
using Akka.Event;
using Micro.Actors.Errors;

namespace Micro.Actors.Server;

/// <summary>
/// The <c>Sender</c> a handler sees: replying to it answers the call. Not an actor, just a ref
/// (like the one behind Akka's own <c>Ask</c>), so a request costs no actor creation.
/// The first reply wins; later ones are dropped with a warning.
/// </summary>
internal sealed class ReplyRef : MinimalActorRef
{
    /// <summary>What every reply of one server shares.</summary>
    public sealed record Shared(IActorRefProvider Provider, IActorRef Server, ServerState State, ILoggingAdapter Log, int MaxPayload,
        BurstQueue<ServerActor.HandlerFree> Freed);

    private readonly Shared _shared;
    private readonly IActorRef? _caller;
    private readonly IActorRef _handler;
    private readonly Codec.ICodec _codec;
    private readonly EndpointCounters _counters;
    private int _done;

    public ReplyRef(Shared shared, RequestContext context, IActorRef? caller, IActorRef handler, Codec.ICodec codec, EndpointCounters counters)
    {
        _shared = shared;
        Context = context;
        _caller = caller;
        _handler = handler;
        _codec = codec;
        _counters = counters;
    }

    public override IActorRefProvider Provider => _shared.Provider;

    /// <summary>
    /// Made (and registered like Akka's own ask ref) only when asked for: that is when the ref
    /// travels to another node (a handler that forwarded the request with this Sender), so the
    /// reply finds its way back. A handler that just answers never needs it.
    /// </summary>
    public override ActorPath Path
    {
        get
        {
            lock (_pathLock)
            {
                if (_path is null)
                {
                    _path = _shared.Provider.TempPath();
                    if (!IsCompleted) _shared.Provider.RegisterTempActor(this, _path);
                }
                return _path;
            }
        }
    }

    private ActorPath? _path;
    private readonly object _pathLock = new();
    public RequestContext Context { get; }
    /// <summary>The batch this request came in, whose answers go back together; null for a request that came alone.</summary>
    public ServerActor.Gathering? Gathering { get; init; }
    public bool IsCompleted => Volatile.Read(ref _done) == 1;

    protected override void TellInternal(object message, IActorRef sender)
    {
        var (body, error) = message switch
        {
            MicroError e => (null, e),
            Status.Failure f => (null, Context.ErrorOf(f.Cause)),
            Status.Success s => (s.Status, (MicroError?)null),
            _ => (message, null),
        };
        Handled(body, error);
    }

    /// <summary>
    /// With handler wrappers: where the handler's own answer goes (the wrappers then give the answer that
    /// leaves, through <see cref="CompleteWrapped"/>). Null without wrappers: the handler's answer is the answer.
    /// </summary>
    public TaskCompletionSource<object?>? Inner { get; init; }

    /// <summary>The handler answered (a reply, an error, or — one-way — it is done).</summary>
    private void Handled(object? body, MicroError? error)
    {
        if (Inner is not { } inner) { Complete(body, error); return; }
        var taken = error is null ? inner.TrySetResult(body) : inner.TrySetException(error.ToException());
        if (!taken && !Context.IsOneWay && !IsCompleted)
            _shared.Log.Warning("{Endpoint} request {RequestId}: a second reply was dropped ({Reply})", Context.Endpoint, Context.Id, body ?? error);
    }

    /// <summary>Marks a one-way request done (there is nobody to answer).</summary>
    public void Finish()
    {
        if (Inner is not null) { Handled(null, null); return; }
        if (!TryEnd()) return;
        Interlocked.Increment(ref _counters.Served);
        Hand(null);
        Context.Release();
    }

    /// <summary>
    /// The handler failed: its error is its answer. Once: the same failure reaches here from the receive and
    /// again from the handler's restart.
    /// </summary>
    public void HandlerFailed(MicroError error)
    {
        if (Interlocked.Exchange(ref _failed, 1) == 0) Handled(null, error);
    }

    private int _failed;

    /// <summary>Answers with an error unless already answered (the server's own: a stuck handler, a stop); wrappers still running are told.</summary>
    public void Fail(MicroError error)
    {
        Inner?.TrySetException(error.ToException());
        Complete(null, error);
    }

    /// <summary>The wrappers' answer, which leaves unless the server has answered already.</summary>
    public void CompleteWrapped(object? body, MicroError? error)
    {
        if (IsCompleted) return;
        Complete(body, error);
    }

    private void Complete(object? body, MicroError? error)
    {
        if (!TryEnd())
        {
            if (Context.IsOneWay) return; // a one-way request ended when its handler returned
            _shared.Log.Warning("{Endpoint} request {RequestId}: a second reply was dropped ({Reply})", Context.Endpoint, Context.Id, body ?? error);
            return;
        }
        // The request's scope goes once the reply is written and sent (it may be made of scoped services).
        try { Answer(body, error); }
        finally { Context.Release(); }
    }

    private void Answer(object? body, MicroError? error)
    {
        if (Context.IsOneWay)
        {
            Interlocked.Increment(ref error is null ? ref _counters.Served : ref _counters.Failed);
            // Nobody hears a one-way request's error, so the log does; a handler's exception is logged already, under its error id.
            if (error is not null && HandlerFailure.IdOf(error) is null)
                _shared.Log.Warning("{Endpoint} one-way request {RequestId} failed: {Error}", Context.Endpoint, Context.Id, error);
            Hand(null);
            return;
        }
        // The reply goes back in the caller's content type; one that cannot be sent is an error the caller sees.
        byte[]? encoded = null;
        if (body is not null && error is null)
        {
            var type = body.GetType().Name;
            try { encoded = _codec.Encode(body); }
            catch (Exception e)
            {
                error = MicroError.InternalServerError(Context.Service, $"{Context.Endpoint} replied with a {type} that cannot be written as {_codec.ContentType}: {e.Message}");
            }
            if (encoded is not null && encoded.Length > _shared.MaxPayload)
            {
                _shared.Log.Warning("{Endpoint} request {RequestId}: the {Bytes}-byte reply is over the {Limit}-byte limit", Context.Endpoint, Context.Id, encoded.Length, _shared.MaxPayload);
                error = MicroError.InternalServerError(Context.Service, $"{Context.Endpoint} replied with a {type} of {encoded.Length} bytes; " +
                    $"one message carries at most {_shared.MaxPayload} bytes (raise {Config.MicroSettings.FrameSizeSetting} on every node, or reply with less)");
                encoded = null;
            }
        }
        Interlocked.Increment(ref error is null ? ref _counters.Served : ref _counters.Failed);
        var response = new Response(Context.Id, encoded, error);
        // Alone on this node: straight back (no added latency). With others in flight: through the
        // server actor, which sends the answers ready together to one caller in one message.
        if (_caller is not null && _shared.State.InFlight <= 1)
        {
            _caller.Tell(response, _shared.Server);
            Hand(null);
        }
        else Hand(_caller is null ? null : response);
    }

    /// <summary>Ends the request once (the first answer wins).</summary>
    private bool TryEnd()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return false;
        lock (_pathLock) if (_path is not null) Provider.UnregisterTempActor(_path);
        return true;
    }

    /// <summary>
    /// Gives the handler back to the server, with the answer still to send if there is one. The
    /// request counts as in flight (what a graceful stop waits for) until its answer has left.
    /// </summary>
    private void Hand(Response? response)
    {
        if (response is null) _shared.State.Finished();
        _shared.Freed.Post(new ServerActor.HandlerFree(_handler, this, response is null ? null : _caller, response));
    }
}
