using System.Collections.Concurrent;
using Akka.Actor;

namespace Micro.Actors.Batching;

/// <summary>
/// Items handed from many threads to one actor, which is told once per burst rather than once per
/// item and then takes everything waiting. Items made together reach it together — calls leave in
/// one batch per node, answers in one batch per caller — and its mailbox carries far fewer messages.
/// </summary>
internal sealed class BurstQueue<T>(object signal)
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _signaled;
    private Action<T>? _closed;

    /// <summary>Set once, right after the actor is made.</summary>
    public IActorRef Actor { get; set; } = ActorRefs.Nobody;

    public void Post(T item)
    {
        _items.Enqueue(item);
        // After the actor has stopped nobody would take it: hand it (and anything left) to the closer.
        if (Volatile.Read(ref _closed) is { } reject) { foreach (var left in TakeAll()) reject(left); return; }
        if (Interlocked.Exchange(ref _signaled, 1) == 0) Actor.Tell(signal);
    }

    /// <summary>The actor has stopped: what waits, and whatever comes later, goes to <paramref name="reject"/>.</summary>
    public void Close(Action<T> reject)
    {
        Interlocked.Exchange(ref _closed, reject); // a full fence: a Post racing this sees it, or is drained below
        foreach (var left in TakeAll()) reject(left);
    }

    /// <summary>The actor takes the items; from here on a new item tells it again.</summary>
    public IEnumerable<T> TakeAll()
    {
        // A full fence, not a release write: the queue must be read after the reset is visible, or a
        // Post in between could see "already told" and its item would wait for the next Post.
        Interlocked.Exchange(ref _signaled, 0);
        while (_items.TryDequeue(out var item)) yield return item;
    }
}
