using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Observability;
using Micro.Actors.Server;
using Micro.Actors.Tests.Support;
using Micro.Actors.Wrappers;

namespace Micro.Actors.Tests.Observability;

/// <summary>The Meter "Micro.Actors", read through a MeterListener, against the calls and events a test makes.</summary>
public sealed class MetricsTests : IDisposable
{
    private sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    private readonly ConcurrentQueue<Measured> _measured = new();
    private readonly ConcurrentDictionary<string, Instrument> _instruments = new();
    private readonly MeterListener _listener = new();

    public MetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name != Telemetry.MeterName) return;
            _instruments[instrument.Name] = instrument;
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private void Add(Instrument i, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var all = new Dictionary<string, object?>();
        foreach (var t in tags) all[t.Key] = t.Value;
        _measured.Enqueue(new Measured(i.Name, value, all));
    }

    public void Dispose() => _listener.Dispose();

    private List<Measured> Of(string instrument, params (string Key, object? Value)[] tags) =>
        _measured.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value))).ToList();

    /// <summary>The latest reading of the node's observable instruments.</summary>
    private List<Measured> Observe(string instrument, params (string Key, object? Value)[] tags)
    {
        _measured.Clear();
        _listener.RecordObservableInstruments();
        return Of(instrument, tags);
    }

    [Fact]
    public async Task Retries_and_failovers_are_counted_per_call_from_the_routers_own_count()
    {
        await using var cluster = new TestCluster();
        var broken = await cluster.StartServiceAsync("meter-flaky", s => s.Handle<Ping, Ping>("Flaky.Echo",
            (_, _) => throw MicroError.ServiceUnavailable("meter-flaky", "this node is broken").ToException()));
        var healthy = await cluster.StartServiceAsync("meter-flaky", s => s.Handle<Ping, Ping>("Flaky.Echo", (p, _) => Task.FromResult(p)));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "meter-flaky", 2);

        // The selector is random: about half the calls try the broken node first and move to the other; the rest go straight.
        var options = new CallOptions { Timeout = TimeSpan.FromSeconds(10), Retries = 1 };
        for (var i = 0; i < 20; i++) await caller.Client.CallAsync<Ping>("meter-flaky", "Flaky.Echo", new Ping("x"), options);

        var tags = (Key: "micro.service", Value: (object?)"meter-flaky");
        var retries = Of("micro.client.retries", tags).Sum(m => m.Value);
        var failovers = Of("micro.client.failovers", tags).Sum(m => m.Value);
        Assert.InRange(retries, 1, 20);           // each call retried at most once (Retries = 1), and some were
        Assert.Equal(retries, failovers);         // every retry went to the other node
        Assert.All(Of("micro.client.retries", tags), m => Assert.Equal("Flaky/Echo", m.Tags["rpc.method"]));
        Assert.Equal(20, Of("rpc.client.call.duration", tags, ("rpc.response.status_code", "200")).Count); // and every call succeeded
        // One retry per call the broken node failed.
        var failedThere = Observe("micro.server.calls", ("micro.node", broken.Address), ("rpc.method", "Flaky/Echo"), ("micro.outcome", "failed"));
        Assert.Equal(retries, Assert.Single(failedThere).Value);
        Assert.DoesNotContain(Observe("micro.server.calls", ("micro.node", healthy.Address), ("micro.outcome", "failed")), m => m.Value > 0);
    }

    [Fact]
    public async Task Calls_are_measured_on_both_sides_by_method_and_code_and_the_server_counts_are_Debug_Stats_own()
    {
        await using var cluster = new TestCluster();
        using var limit = EndpointLimit.Concurrency(1);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var back = await cluster.StartServiceAsync("meter-back", s => s
            .Handle<Ping, Ping>("Back.Echo", (p, _) => Task.FromResult(p))
            .Handle<Ping, Ping>("Back.Fail", (_, _) => throw MicroError.BadRequest("meter-back", "no").ToException())
            .Handle<Ping, Ping>("Hold.On", async (p, _) =>
            {
                held.TrySetResult();
                await release.Task;
                return p;
            }, poolSize: 2), o => o.Wrappers.AddHandler(limit, "Hold"));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "meter-back", 1);
        var options = new CallOptions { Timeout = TimeSpan.FromSeconds(10) };

        var started = DateTime.UtcNow;
        for (var i = 0; i < 5; i++) await caller.Client.CallAsync<Ping>("meter-back", "Back.Echo", new Ping("x"), options);
        for (var i = 0; i < 2; i++) await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Ping>("meter-back", "Back.Fail", new Ping("x"), options));
        var elapsed = (DateTime.UtcNow - started).TotalSeconds;
        var holding = caller.Client.CallAsync<Ping>("meter-back", "Hold.On", new Ping("x"), options);
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Ping>("meter-back", "Hold.On", new Ping("x"), options));
        Assert.Equal(429, refused.Code); // the limit answered in the handler's place: a rejection
        release.SetResult();
        await holding;

        var echoed = Of("rpc.client.call.duration", ("micro.service", "meter-back"), ("rpc.method", "Back/Echo"));
        Assert.Equal(5, echoed.Count);
        Assert.All(echoed, m => Assert.Equal("200", m.Tags["rpc.response.status_code"]));
        Assert.All(echoed, m => Assert.Equal("micro.actors", m.Tags["rpc.system.name"]));
        Assert.InRange(echoed.Sum(m => m.Value), 1e-6, elapsed);
        var failed = Of("rpc.client.call.duration", ("micro.service", "meter-back"), ("rpc.method", "Back/Fail"));
        Assert.Equal(2, failed.Count);
        Assert.All(failed, m => Assert.Equal("400", m.Tags["error.type"]));
        Assert.Equal(5, Of("rpc.server.call.duration", ("micro.service", "meter-back"), ("rpc.method", "Back/Echo"), ("rpc.response.status_code", "200")).Count);
        Assert.Equal(2, Of("rpc.server.call.duration", ("micro.service", "meter-back"), ("rpc.method", "Back/Fail"), ("error.type", "400")).Count);
        Assert.Equal(0, Of("micro.client.calls.in_flight", ("micro.service", "meter-back")).Sum(m => m.Value)); // each +1 met by its -1
        var advice = ((Histogram<double>)_instruments["rpc.client.call.duration"]).Advice?.HistogramBucketBoundaries;
        Assert.Equal([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], advice);
        Assert.Equal("s", _instruments["rpc.server.call.duration"].Unit);

        // What the node counts anyway, read when collected: the same figures Debug.Stats answers with.
        var stats = await caller.Client.CallAsync<StatsReply>("meter-back", BuiltIn.Stats, new object());
        var served = Observe("micro.server.calls", ("micro.service", "meter-back"), ("micro.node", back.Address), ("rpc.method", "Back/Echo"), ("micro.outcome", "served"));
        Assert.Equal(5, Assert.Single(served).Value);
        Assert.Equal(5, stats.Endpoints.Single(e => e.Endpoint == "Back.Echo").Served);
        Assert.Equal(2, Assert.Single(Observe("micro.server.calls", ("micro.service", "meter-back"), ("rpc.method", "Back/Fail"), ("micro.outcome", "failed"))).Value);
        Assert.Equal(2, stats.Endpoints.Single(e => e.Endpoint == "Back.Fail").Failed);
        Assert.Equal(1, Assert.Single(Observe("micro.server.rejections", ("micro.service", "meter-back"), ("rpc.response.status_code", "429"))).Value);
        Assert.Equal(0, Assert.Single(Observe("micro.server.queue.depth", ("micro.service", "meter-back"), ("micro.handler.group", "Back.Echo"))).Value);
        Assert.Equal(2, Assert.Single(Observe("micro.cluster.members", ("micro.service", "meter-back"), ("micro.member.status", "up"))).Value);
    }

    [Fact]
    public async Task Events_are_counted_as_published_and_consumed_per_topic_and_group_and_their_handling_timed()
    {
        await using var cluster = new TestCluster();
        var got = 0;
        var listener = await cluster.StartServiceAsync("meter-listener", s => s.Subscribe<Note>("meter-notes", (_, _) =>
        {
            Interlocked.Increment(ref got);
            return Task.CompletedTask;
        }, queue: "counters"));
        var publisher = await cluster.StartClientAsync();
        await publisher.Broker.WaitForSubscribersAsync("meter-notes", TimeSpan.FromSeconds(10));

        for (var i = 0; i < 3; i++) await publisher.Client.PublishAsync("meter-notes", new Note($"n{i}"));
        await Eventually.TrueAsync(() => Volatile.Read(ref got) == 3, TimeSpan.FromSeconds(10), "three events handled");

        Assert.Equal(3, Of("messaging.client.sent.messages", ("messaging.destination.name", "meter-notes")).Sum(m => m.Value));
        await Eventually.TrueAsync(() => Of("messaging.process.duration", ("messaging.destination.name", "meter-notes"), ("messaging.consumer.group.name", "counters")).Count == 3,
            TimeSpan.FromSeconds(5), "three handlings timed");
        var consumed = Observe("messaging.client.consumed.messages", ("micro.service", "meter-listener"), ("micro.node", listener.Address),
            ("messaging.destination.name", "meter-notes"), ("messaging.consumer.group.name", "counters"));
        Assert.Equal(3, Assert.Single(consumed).Value);
        Assert.Equal(0, Assert.Single(Observe("micro.events.failed", ("micro.service", "meter-listener"), ("messaging.destination.name", "meter-notes"))).Value);
    }
}
