using Akka.Actor;

namespace Micro.Actors.Service;

/// <summary>
/// The base of <see cref="Server.MicroHandler"/> and <see cref="Broker.MicroSubscriber"/>: a
/// <see cref="ReceiveActor"/> that knows when the work of a message is done, also when its receive
/// is async (Akka gives no sign of that), so a one-way request or an event ends — and its
/// dependency-injection scope is disposed — when the handler has really finished.
/// </summary>
public abstract class TrackedReceiveActor : ReceiveActor
{
    private bool _async;

    /// <summary>The message's work is done: called once per message, after a sync receive returns or an async one ends (<paramref name="failure"/>: how it failed).</summary>
    private protected abstract void WorkDone(Exception? failure);

    /// <summary>Runs a receive; ends its work at once unless it went on asynchronously.</summary>
    private protected bool ReceiveTracked(Receive receive, object message)
    {
        _async = false;
        var handled = base.AroundReceive(receive, message);
        if (!_async) WorkDone(null);
        return handled;
    }

    protected new void ReceiveAsync<T>(Func<T, Task> handler, Predicate<T>? shouldHandle = null) => base.ReceiveAsync(Tracked(handler), shouldHandle);

    protected new void ReceiveAsync<T>(Predicate<T> shouldHandle, Func<T, Task> handler) => base.ReceiveAsync(shouldHandle, Tracked(handler));

    protected new void ReceiveAsync(Type messageType, Func<object, Task> handler, Predicate<object>? shouldHandle = null) =>
        base.ReceiveAsync(messageType, Tracked(handler), shouldHandle);

    protected new void ReceiveAsync(Type messageType, Predicate<object> shouldHandle, Func<object, Task> handler) =>
        base.ReceiveAsync(messageType, shouldHandle, Tracked(handler));

    protected new void ReceiveAnyAsync(Func<object, Task> handler) => base.ReceiveAnyAsync(Tracked(handler));

    private Func<T, Task> Tracked<T>(Func<T, Task> handler) => async message =>
    {
        _async = true;
        try { await handler(message).ConfigureAwait(true); }
        catch (Exception e)
        {
            WorkDone(e);
            throw; // Akka's supervision restarts the actor, as for a sync receive that throws
        }
        WorkDone(null);
    };
}
