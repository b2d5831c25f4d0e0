using Akka.Actor;

namespace Micro.Actors.Broker;

/// <summary>
/// Base class of subscriber actors: receive the event's message type as usual; <see cref="Event"/>
/// tells its topic, id and headers. A subscriber that throws is logged with the event id, counted,
/// restarted, and keeps receiving.
/// </summary>
public abstract class MicroSubscriber : Service.TrackedReceiveActor
{
    internal sealed record Delivery(EventContext Context, object Body)
    {
        /// <summary>With subscriber wrappers: told when the event is handled.</summary>
        public TaskCompletionSource? Done { get; init; }
    }
    internal sealed record Failed(EventContext? Context, Exception Cause);

    private EventContext? _current;
    private TaskCompletionSource? _done;

    protected EventContext Event => _current ?? throw new InvalidOperationException("Event is only known while handling an event");

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not Delivery d) return base.AroundReceive(receive, message);
        _current = d.Context;
        _done = d.Done;
        using var scope = d.Context.BeginLogScope();
        using var metadata = Metadata.MetadataContext.Enter(d.Context.Headers);
        return ReceiveTracked(receive, d.Body);
    }

    /// <summary>The event is handled (an async receive: its task has ended): its scope goes.</summary>
    private protected override void WorkDone(Exception? failure)
    {
        _current?.End();
        if (failure is null) _done?.TrySetResult();
        else _done?.TrySetException(failure);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        _current?.End();
        _done?.TrySetException(reason);
        Context.Parent.Tell(new Failed(_current, reason));
        base.PreRestart(reason, message);
    }

    protected override void PostStop()
    {
        _current?.End();
        _done?.TrySetCanceled();
        base.PostStop();
    }
}
