using Akka.Actor;

namespace Micro.Actors.Batching;

/// <summary>
/// Messages waiting to leave one actor, per destination. A flush sends what waits for a destination
/// as one message (a batch) when there is more than one, cut so that a batch stays well under the
/// transport's smallest frame (32,000 bytes) — an item bigger than that goes alone.
/// Used by the router (requests per node) and the server (answers per caller).
/// </summary>
internal sealed class Outbox<T>(Func<T, int> sizeOf, Func<List<T>, object> batchOf) where T : notnull
{
    private const int MaxBytes = 24 * 1024;
    private const int MaxCount = 64;
    private readonly Dictionary<IActorRef, List<T>> _waiting = new();

    public bool IsEmpty => _waiting.Count == 0;

    /// <summary>Queues <paramref name="item"/>; true when it is the first since the last flush (time to schedule one).</summary>
    public bool Add(IActorRef to, T item)
    {
        var first = _waiting.Count == 0;
        if (!_waiting.TryGetValue(to, out var items)) _waiting[to] = items = [];
        items.Add(item);
        return first;
    }

    public void Flush(IActorRef sender)
    {
        foreach (var (to, items) in _waiting)
            foreach (var batch in Cut(items, sizeOf))
            {
                to.Tell(batch.Count == 1 ? batch[0] : batchOf(batch), sender);
                if (Observability.Metrics.BatchSize.Enabled) Observability.Metrics.BatchSize.Record(batch.Count);
            }
        _waiting.Clear(); // destinations come and go (nodes, callers' temp refs): keep nothing between flushes
    }

    /// <summary><paramref name="items"/> in order, cut into batches of at most 64 items and 24 KiB (an item bigger than that alone).</summary>
    public static IEnumerable<List<T>> Cut(List<T> items, Func<T, int> sizeOf)
    {
        if (items.Count == 1)
        {
            yield return items;
            yield break;
        }
        var batch = new List<T>(Math.Min(items.Count, MaxCount));
        var bytes = 0;
        foreach (var item in items)
        {
            var size = sizeOf(item);
            if (batch.Count > 0 && (batch.Count == MaxCount || bytes + size > MaxBytes))
            {
                yield return batch;
                batch = new List<T>(MaxCount);
                bytes = 0;
            }
            batch.Add(item);
            bytes += size;
        }
        yield return batch;
    }
}
