using System.Collections.Concurrent;
using Akka.Actor;

namespace Micro.Actors.Service;

/// <summary>
/// Items handed from many threads to one actor, which is told once per burst rather than once per
/// item and then takes everything waiting. Items made together reach it together — calls leave in
/// one batch per node, answers in one batch per caller — and its mailbox carries far fewer messages.
/// </summary>
internal sealed class BurstQueue<T>(object signal)
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _signaled;

    /// <summary>Set once, right after the actor is made.</summary>
    public IActorRef Actor { get; set; } = ActorRefs.Nobody;

    public void Post(T item)
    {
        _items.Enqueue(item);
        if (Interlocked.Exchange(ref _signaled, 1) == 0) Actor.Tell(signal);
    }

    /// <summary>The actor takes the items; from here on a new item tells it again.</summary>
    public IEnumerable<T> TakeAll()
    {
        Volatile.Write(ref _signaled, 0);
        while (_items.TryDequeue(out var item)) yield return item;
    }
}
