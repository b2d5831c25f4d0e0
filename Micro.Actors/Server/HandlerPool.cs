namespace Micro.Actors.Server;

/// <summary>
/// One handler group's pool, kept pure (no actor; the time comes from a <see cref="TimeProvider"/>):
/// which handlers are idle, what each busy one was given, the bounded queue of work waiting for a
/// handler, queued work whose deadline passed, and handlers stuck past their deadline. The server
/// actor carries messages to it and does what it says through <c>start</c> and <c>expired</c>.
/// </summary>
/// <typeparam name="THandler">A handler (an actor ref in the server).</typeparam>
/// <typeparam name="TWork">A checked request waiting for a handler.</typeparam>
/// <typeparam name="TTask">Work given to a handler (the server's reply ref): what its "done" names.</typeparam>
internal sealed class HandlerPool<THandler, TWork, TTask>
    where THandler : notnull
    where TTask : class
{
    /// <summary>
    /// When more work waits than handlers are idle, a handler that prefetches is given up to this many
    /// at once: it takes them in one turn of its mailbox and their answers leave together.
    /// </summary>
    public const int Prefetch = 4;

    private readonly Stack<THandler> _idle = new();
    private readonly Queue<(TWork Work, DateTime Deadline)> _waiting = new();
    private readonly Dictionary<THandler, List<(TTask Task, DateTime Deadline)>> _busy = new();
    private readonly Stack<List<(TTask Task, DateTime Deadline)>> _spare = new();
    private readonly int _queueLimit;
    private readonly bool _prefetches;
    private readonly TimeProvider _time;
    private readonly Func<THandler, TWork, TTask> _start;
    private readonly Action<TWork> _expired;

    /// <param name="queueLimit">How much work may wait while every handler is busy; beyond it <see cref="IsFull"/>.</param>
    /// <param name="prefetches">Whether a handler may be given several tasks (actors: yes; functions run beside their mailbox: no).</param>
    /// <param name="start">Gives work to a handler now; returns the task that its "done" will name.</param>
    /// <param name="expired">Queued work whose deadline passed before a handler was free (the server answers 408).</param>
    public HandlerPool(int queueLimit, bool prefetches, TimeProvider time, Func<THandler, TWork, TTask> start, Action<TWork> expired)
    {
        _queueLimit = queueLimit;
        _prefetches = prefetches;
        _time = time;
        _start = start;
        _expired = expired;
    }

    public int IdleCount => _idle.Count;
    public int WaitingCount => _waiting.Count;
    public int BusyCount => _busy.Count;

    /// <summary>New work would be turned away (503): no handler is idle and the queue is full.</summary>
    public bool IsFull => _idle.Count == 0 && _waiting.Count >= _queueLimit;

    /// <summary>A new handler (or a replacement): it takes waiting work at once, or goes idle.</summary>
    public void Add(THandler handler) => Release(handler, null);

    /// <summary>Takes work that is not turned away (see <see cref="IsFull"/>): an idle handler starts it, or it waits its turn.</summary>
    public void Offer(TWork work, DateTime deadline)
    {
        if (_idle.TryPop(out var handler)) Release(handler, (work, deadline));
        else _waiting.Enqueue((work, deadline));
    }

    /// <summary>
    /// <paramref name="handler"/> finished <paramref name="task"/>. Once it has finished all it was given it
    /// takes the next waiting work, or goes idle. False when the pool did not know the task (it already failed).
    /// </summary>
    public bool Done(THandler handler, TTask task)
    {
        if (!_busy.TryGetValue(handler, out var given)) return false;
        var at = -1;
        for (var i = 0; i < given.Count && at < 0; i++)
            if (ReferenceEquals(given[i].Task, task)) at = i;
        if (at < 0) return false;
        given.RemoveAt(at);
        if (given.Count > 0) return true;
        _busy.Remove(handler);
        _spare.Push(given); // the next activation's list: none is made per request
        Release(handler, null);
        return true;
    }

    /// <summary>
    /// Handlers whose oldest task is past its deadline by more than <paramref name="grace"/>: probably stuck
    /// for good. They leave the pool with what they were given (oldest first); the server answers those and
    /// adds replacements.
    /// </summary>
    public List<(THandler Handler, List<TTask> Tasks)> TakeStuck(TimeSpan grace)
    {
        var now = Now;
        var stuck = new List<(THandler, List<TTask>)>();
        foreach (var (handler, given) in _busy)
            if (given[0].Deadline + grace < now) stuck.Add((handler, given.ConvertAll(g => g.Task)));
        foreach (var (handler, _) in stuck) _busy.Remove(handler);
        return stuck;
    }

    /// <summary>A handler that stopped leaves the pool; returns what it was given and never finished.</summary>
    public List<TTask> Remove(THandler handler)
    {
        if (_busy.Remove(handler, out var given)) return given.ConvertAll(g => g.Task);
        if (_idle.Contains(handler))
        {
            var rest = _idle.Where(h => !EqualityComparer<THandler>.Default.Equals(h, handler)).Reverse().ToList();
            _idle.Clear();
            foreach (var h in rest) _idle.Push(h);
        }
        return [];
    }

    /// <summary>Empties the queue (the node stops, or the group cannot serve): each waiting work, oldest first.</summary>
    public IEnumerable<TWork> TakeWaiting()
    {
        while (_waiting.TryDequeue(out var waiting)) yield return waiting.Work;
    }

    /// <summary>Every task given and not finished.</summary>
    public IEnumerable<TTask> Given => _busy.Values.SelectMany(g => g).Select(g => g.Task);

    /// <summary>Gives <paramref name="handler"/> the first work still worth doing (<paramref name="first"/>, then the queue), or makes it idle.</summary>
    private void Release(THandler handler, (TWork Work, DateTime Deadline)? first)
    {
        var now = Now;
        List<(TTask, DateTime)>? given = null;
        var next = first;
        while (true)
        {
            (TWork Work, DateTime Deadline) work;
            if (next is { } taken) (work, next) = (taken, null);
            else if (!_waiting.TryDequeue(out work)) break;
            if (work.Deadline <= now)
            {
                _expired(work.Work);
                continue;
            }
            if (given is null) _busy[handler] = given = _spare.TryPop(out var spare) ? spare : new List<(TTask, DateTime)>(Prefetch);
            given.Add((_start(handler, work.Work), work.Deadline));
            // One at a time, unless work piles up beyond the idle handlers and this handler may take more.
            if (!_prefetches || given.Count >= Prefetch || _waiting.Count <= _idle.Count) return;
        }
        if (given is null) _idle.Push(handler);
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;
}
