namespace Micro.Actors.Server;

/// <summary>Requests this node is serving right now: what a graceful stop waits for.</summary>
internal sealed class ServerState
{
    private int _inFlight;
    private long _latestDeadlineTicks;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>After this, no caller waits for any request this node has taken.</summary>
    public DateTime LatestDeadline => new(Interlocked.Read(ref _latestDeadlineTicks), DateTimeKind.Utc);

    public void Started(DateTime deadlineUtc)
    {
        Interlocked.Increment(ref _inFlight);
        var ticks = deadlineUtc.Ticks;
        long seen;
        while (ticks > (seen = Interlocked.Read(ref _latestDeadlineTicks)))
            if (Interlocked.CompareExchange(ref _latestDeadlineTicks, ticks, seen) == seen) break;
    }

    public void Finished() => Interlocked.Decrement(ref _inFlight);

    private int _openStreams;

    /// <summary>Streams this node serves right now (a graceful stop lets them end, within its drain timeout).</summary>
    public int OpenStreams => Volatile.Read(ref _openStreams);

    public void StreamOpened() => Interlocked.Increment(ref _openStreams);

    public void StreamEnded() => Interlocked.Decrement(ref _openStreams);
}
