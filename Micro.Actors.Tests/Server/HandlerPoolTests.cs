using Micro.Actors.Server;
using Microsoft.Extensions.Time.Testing;

namespace Micro.Actors.Tests.Server;

/// <summary>The server's handler pool on its own: no actor, no cluster, a fake clock.</summary>
public sealed class HandlerPoolTests
{
    private sealed class Given(string handler, string work)
    {
        public string Handler { get; } = handler;
        public string Work { get; } = work;
    }

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero));
    private readonly List<Given> _started = [];
    private readonly List<string> _expired = [];

    private HandlerPool<string, string, Given> Pool(int queueLimit = 10, bool prefetches = true, params string[] handlers)
    {
        var pool = new HandlerPool<string, string, Given>(queueLimit, prefetches, _time,
            (handler, work) => { var g = new Given(handler, work); _started.Add(g); return g; }, _expired.Add);
        foreach (var h in handlers) pool.Add(h);
        return pool;
    }

    private DateTime In(int ms) => _time.GetUtcNow().UtcDateTime.AddMilliseconds(ms);

    private Given StartedFor(string work) => _started.Single(g => g.Work == work);

    [Fact]
    public void Work_goes_to_an_idle_handler_at_once_else_waits_and_past_the_queue_limit_the_pool_is_full()
    {
        var pool = Pool(queueLimit: 2, prefetches: true, handlers: ["h1"]);
        Assert.False(pool.IsFull);
        pool.Offer("a", In(5000));
        Assert.Equal("h1", StartedFor("a").Handler);
        Assert.Equal((0, 1, 0), (pool.IdleCount, pool.BusyCount, pool.WaitingCount));

        pool.Offer("b", In(5000));
        pool.Offer("c", In(5000));
        Assert.Single(_started);
        Assert.Equal(2, pool.WaitingCount);
        Assert.True(pool.IsFull); // no idle handler, queue at its limit: the server answers 503
    }

    [Fact]
    public void A_handler_done_with_its_work_takes_the_oldest_waiting_work_then_goes_idle_and_the_last_idle_is_used_first()
    {
        var pool = Pool(prefetches: false, handlers: ["h1", "h2"]);
        pool.Offer("a", In(5000)); // h2: the handler idle last is warm
        pool.Offer("b", In(5000)); // h1
        pool.Offer("c", In(5000));
        pool.Offer("d", In(5000));
        Assert.Equal(["h2", "h1"], _started.Select(g => g.Handler));

        Assert.True(pool.Done("h1", StartedFor("b")));
        Assert.Equal("h1", StartedFor("c").Handler); // oldest first
        Assert.True(pool.Done("h1", StartedFor("c")));
        Assert.Equal("h1", StartedFor("d").Handler);
        Assert.True(pool.Done("h1", StartedFor("d")));
        Assert.Equal(1, pool.IdleCount);

        Assert.False(pool.Done("h1", StartedFor("d")));     // twice: nothing happens
        Assert.False(pool.Done("h9", StartedFor("a")));     // a handler the pool does not know
    }

    [Fact]
    public void Waiting_work_whose_deadline_passed_is_expired_not_started_and_the_handler_takes_the_next_live_one()
    {
        var pool = Pool(prefetches: false, handlers: ["h1"]);
        pool.Offer("a", In(5000));
        pool.Offer("short", In(100));
        pool.Offer("long", In(10_000));

        _time.Advance(TimeSpan.FromMilliseconds(100)); // exactly at the deadline: too late
        pool.Done("h1", StartedFor("a"));
        Assert.Equal(["short"], _expired);
        Assert.Equal("h1", StartedFor("long").Handler);
        Assert.DoesNotContain(_started, g => g.Work == "short");
    }

    [Fact]
    public void When_work_piles_up_an_actor_handler_is_given_up_to_four_at_once_and_a_function_one_at_a_time()
    {
        var actors = Pool(prefetches: true, handlers: ["h1"]);
        var first = "w0";
        actors.Offer(first, In(5000));
        for (var i = 1; i <= 6; i++) actors.Offer($"w{i}", In(5000));
        actors.Done("h1", StartedFor(first));
        // w1..w4 at once (the limit), w5 and w6 still wait.
        Assert.Equal(["w0", "w1", "w2", "w3", "w4"], _started.Select(g => g.Work));
        Assert.Equal(2, actors.WaitingCount);
        // Done with three of the four: it still holds one, so it takes nothing yet.
        foreach (var w in new[] { "w1", "w2", "w3" }) Assert.True(actors.Done("h1", StartedFor(w)));
        Assert.Equal(5, _started.Count);
        actors.Done("h1", StartedFor("w4"));
        Assert.Equal(["w5", "w6"], _started.Skip(5).Select(g => g.Work));

        _started.Clear();
        var functions = Pool(prefetches: false, handlers: ["f1"]);
        functions.Offer("x0", In(5000));
        functions.Offer("x1", In(5000));
        functions.Offer("x2", In(5000));
        functions.Done("f1", StartedFor("x0"));
        Assert.Equal(["x0", "x1"], _started.Select(g => g.Work));
    }

    [Fact]
    public void Prefetch_stops_once_no_more_work_waits_than_handlers_are_idle()
    {
        var pool = Pool(prefetches: true, handlers: ["h1", "h2"]);
        pool.Offer("a", In(5000)); // h2
        pool.Offer("b", In(5000)); // h1
        pool.Offer("c", In(5000));
        pool.Offer("d", In(5000));
        pool.Done("h2", StartedFor("a"));
        // h2 takes c; one waits (d) and none is idle, so it takes d as well.
        Assert.Equal(["c", "d"], _started.Skip(2).Select(g => g.Work));
        Assert.All(_started.Skip(2), g => Assert.Equal("h2", g.Handler));
    }

    [Fact]
    public void A_handler_is_stuck_only_once_its_oldest_work_is_past_its_deadline_by_the_grace_and_then_it_leaves_the_pool()
    {
        var grace = TimeSpan.FromSeconds(1);
        var pool = Pool(prefetches: true, handlers: ["h1"]);
        pool.Offer("a", In(1000));
        pool.Offer("b", In(9000));
        pool.Offer("c", In(9000));
        pool.Done("h1", StartedFor("a")); // h1 takes b and c
        _started.Clear();
        pool.Offer("a2", In(500));
        Assert.Empty(_started); // h1 is busy

        _time.Advance(TimeSpan.FromSeconds(10)); // b's deadline + grace is 10 s: not yet past it
        Assert.Empty(pool.TakeStuck(grace));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var (handler, tasks) = Assert.Single(pool.TakeStuck(grace));
        Assert.Equal("h1", handler);
        Assert.Equal(["b", "c"], tasks.Select(t => t.Work)); // oldest first: the first gets 408, the rest 503
        Assert.Equal(0, pool.BusyCount);
        Assert.False(pool.Done("h1", tasks[0]));             // its late answer changes nothing

        pool.Add("h2"); // the replacement: the expired a2 is not started
        Assert.Equal(["a2"], _expired);
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public void A_stopped_handler_leaves_the_pool_with_what_it_was_given_and_an_idle_one_is_never_given_work()
    {
        var pool = Pool(prefetches: false, handlers: ["h1", "h2"]);
        pool.Offer("a", In(5000)); // h2
        Assert.Equal(["a"], pool.Remove("h2").Select(t => t.Work));
        Assert.Empty(pool.Remove("h1")); // was idle
        pool.Offer("b", In(5000));
        Assert.Single(_started);
        Assert.Equal(["b"], pool.TakeWaiting());
        Assert.Equal(0, pool.WaitingCount);
    }
}
