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
    private readonly IActorRef? _caller;
    private readonly IActorRef _server;
    private readonly IActorRef _handler;
    private readonly Codec.ICodec? _codec;
    private readonly EndpointCounters _counters;
    private readonly ServerState _state;
    private readonly ILoggingAdapter _log;
    private int _done;

    public ReplyRef(IActorRefProvider provider, RequestContext context, IActorRef? caller, IActorRef server,
        IActorRef handler, ServerState state, ILoggingAdapter log, Codec.ICodec? codec, EndpointCounters counters)
    {
        Provider = provider;
        Path = provider.TempPath();
        // Registered like Akka's own ask ref, so a reply that comes back from another node (a handler
        // that forwarded the request with this Sender) finds its way.
        provider.RegisterTempActor(this, Path);
        Context = context;
        _caller = caller;
        _server = server;
        _handler = handler;
        _codec = codec;
        _counters = counters;
        _state = state;
        _log = log;
    }

    public override IActorRefProvider Provider { get; }
    public override ActorPath Path { get; }
    public RequestContext Context { get; }
    public bool IsCompleted => Volatile.Read(ref _done) == 1;

    protected override void TellInternal(object message, IActorRef sender)
    {
        var (body, error) = message switch
        {
            MicroError e => (null, e),
            Status.Failure f => (null, MicroException.ToError(f.Cause, Context.Service)),
            Status.Success s => (s.Status, (MicroError?)null),
            _ => (message, null),
        };
        Complete(body, error);
    }

    /// <summary>Marks a one-way request done (there is nobody to answer).</summary>
    public void Finish()
    {
        if (TryEnd()) Interlocked.Increment(ref _counters.Served);
    }

    /// <summary>Answers with an error unless already answered (used when the handler fails).</summary>
    public void Fail(MicroError error) => Complete(null, error);

    private void Complete(object? body, MicroError? error)
    {
        if (!TryEnd())
        {
            if (Context.IsOneWay) return; // a one-way request ended when its handler returned
            _log.Warning("{0} request {1}: a second reply was dropped ({2})", Context.Endpoint, Context.Id, body ?? error);
            return;
        }
        if (error is null) Interlocked.Increment(ref _counters.Served);
        else Interlocked.Increment(ref _counters.Failed);
        if (Context.IsOneWay)
        {
            if (error is not null) _log.Warning("{0} one-way request {1} failed: {2}", Context.Endpoint, Context.Id, error);
            return;
        }
        // A caller that sent JSON (say) gets its reply in JSON too.
        if (_codec is not null && body is not null && error is null)
        {
            var type = body.GetType().Name;
            try { body = _codec.Encode(body); }
            catch (Exception e)
            {
                body = null;
                error = MicroError.InternalServerError(Context.Service, $"{Context.Endpoint} replied with a {type} that cannot be written as {_codec.ContentType}: {e.Message}");
            }
        }
        _caller?.Tell(new Response(Context.Id, body, error), _server);
    }

    /// <summary>Ends the request once: counts it done and gives its handler back to the server.</summary>
    private bool TryEnd()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return false;
        _state.Finished();
        Context.Release();
        Provider.UnregisterTempActor(Path);
        _server.Tell(new ServerActor.HandlerFree(_handler, this));
        return true;
    }
}
