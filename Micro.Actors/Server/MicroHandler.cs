using Akka;
using Akka.Actor;
using Micro.Actors.Errors;

namespace Micro.Actors.Server;

/// <summary>
/// Base class of handler actors. Receive request messages as usual and reply with
/// <c>Sender.Tell(reply)</c> (or <c>Sender.Tell(MicroError)</c>, or a <c>Status.Failure</c>).
/// <see cref="Request"/> tells who called, with what headers and deadline. A handler that throws
/// answers the call with an error (500, or the <see cref="MicroError"/> of a <see cref="MicroException"/>)
/// and is restarted by supervision; the service keeps serving.
/// </summary>
public abstract class MicroHandler : Service.TrackedReceiveActor
{
    private ReplyRef? _current;

    /// <summary>The request being handled (also after an <c>await</c> in <c>ReceiveAsync</c>).</summary>
    protected RequestContext Request => _current?.Context
        ?? throw new InvalidOperationException("Request is only known while handling a request sent through Micro.Actors");

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (Sender is not ReplyRef reply) return base.AroundReceive(receive, message);
        _current = reply;
        using var scope = reply.Context.BeginLogScope();
        using var metadata = Metadata.MetadataContext.Enter(reply.Context.Headers);
        try { return ReceiveTracked(receive, message); }
        catch (Exception e)
        {
            // Answered (and logged, under the error id its caller gets) before supervision sees the exception:
            // so supervision knows not to log it a second time.
            reply.HandlerFailed(reply.Context.ErrorOf(e));
            throw;
        }
    }

    /// <summary>
    /// An async receive that failed is answered here, as a sync one is above. A one-way request has no reply to
    /// mark its end: it ends when its handler is done (an async one: when its task ends).
    /// </summary>
    private protected override void WorkDone(Exception? failure)
    {
        if (_current is not { } reply) return;
        if (failure is not null) reply.HandlerFailed(reply.Context.ErrorOf(failure));
        else if (reply.Context.IsOneWay && EndsOneWayWhenDone) reply.Finish();
    }

    /// <summary>Whether a one-way request ends when the receive is done (false: when the handler replies).</summary>
    private protected virtual bool EndsOneWayWhenDone => true;

    protected override void PreRestart(Exception reason, object message)
    {
        // A failure the receive did not see (one it saw was answered there, and is not answered twice).
        if (_current is { IsCompleted: false } reply) reply.HandlerFailed(reply.Context.ErrorOf(reason));
        base.PreRestart(reason, message);
    }

    protected override void Unhandled(object message)
    {
        if (Sender is ReplyRef reply && !reply.IsCompleted)
        {
            reply.HandlerFailed(MicroError.BadRequest(reply.Context.Service,
                $"{GetType().Name} has no handler for {message.GetType().Name} on {reply.Context.Endpoint}"));
            return;
        }
        base.Unhandled(message);
    }
}

/// <summary>Runs a plain async function as a handler.</summary>
internal sealed class FunctionHandler : MicroHandler
{
    private protected override bool EndsOneWayWhenDone => false;

    public FunctionHandler(Func<object, RequestContext, Task<object?>> handle)
    {
        // No ReceiveAsync: the server gives a handler one request at a time anyway, so there is nothing
        // to hold back, and a function that finishes at once is answered without any task machinery.
        ReceiveAny(message =>
        {
            var sender = Sender;
            Task<object?> task;
            try { task = handle(message, Request); }
            catch (Exception e) { task = Task.FromException<object?>(e); }
            if (task.IsCompletedSuccessfully) sender.Tell(task.Result ?? Done.Instance);
            else if (task.IsCompleted) Answer(task, sender);
            else task.ContinueWith(t => Answer(t, sender), TaskScheduler.Default);
        });
    }

    private static void Answer(Task<object?> task, IActorRef sender)
    {
        if (task.IsCompletedSuccessfully) { sender.Tell(task.Result ?? Done.Instance); return; }
        // The reply ref turns it into the caller's error (and logs it under an error id).
        sender.Tell(new Status.Failure(task.Exception?.InnerException ?? new TaskCanceledException(task)));
    }
}
