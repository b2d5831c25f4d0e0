using System.Collections.Concurrent;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Service;

/// <summary>Nodes leaving and dying while calls are in flight.</summary>
public sealed class LifecycleTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task One_instance_stopped_gracefully_under_load_every_call_succeeds_on_the_other()
    {
        await using var cluster = new TestCluster();
        var hooks = new ConcurrentQueue<string>();
        var a = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o =>
        {
            o.BeforeStop.Add(() => { hooks.Enqueue("before"); return Task.CompletedTask; });
            o.AfterStop.Add(() => { hooks.Enqueue("after"); return Task.CompletedTask; });
        });
        var b = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 2);

        var failures = new ConcurrentQueue<Exception>();
        var servedBy = new ConcurrentQueue<string>();
        using var stopLoad = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                try { servedBy.Enqueue((await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{w}"))).Node); }
                catch (Exception e) { failures.Enqueue(e); }
            }
        })).ToList();

        await Eventually.TrueAsync(() => servedBy.Contains(a.Address) && servedBy.Contains(b.Address), TimeSpan.FromSeconds(10), "traffic on both nodes");
        var stopping = DateTime.UtcNow;
        await a.StopAsync();
        output.WriteLine($"graceful stop under load took {(DateTime.UtcNow - stopping).TotalMilliseconds:0} ms; {servedBy.Count} calls so far, {failures.Count} failed");
        var afterStop = servedBy.Count;
        await Eventually.TrueAsync(() => servedBy.Count > afterStop + 50, TimeSpan.FromSeconds(10), "50 more calls");
        stopLoad.Cancel();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.DoesNotContain(a.Address, servedBy.Skip(afterStop));
        Assert.Equal(["before", "after"], hooks);
    }

    [Fact]
    public async Task Calls_in_flight_to_a_node_that_dies_are_retried_on_another_before_their_deadline()
    {
        await using var cluster = new TestCluster();
        var arrived = 0;
        // "doomed" never answers; when its actor system dies without leaving (a crash), the calls it
        // holds must move to "healthy" instead of waiting out their 5 s deadline.
        var doomed = await cluster.StartServiceAsync("work", s => s.Handle<Ping, string>("Work.Do", async (_, ctx) =>
        {
            Interlocked.Increment(ref arrived);
            await Task.Delay(Timeout.Infinite, ctx.Cancellation);
            return "never";
        }), o => o.Config = TestCluster.FastConfig + "\nakka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var healthy = await cluster.StartServiceAsync("work", s => s.Handle<Ping, string>("Work.Do", (_, _) => Task.FromResult("done")));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "work", 2);

        var started = DateTime.UtcNow;
        var calls = Enumerable.Range(0, 8)
            .Select(i => client.Client.CallAsync<string>("work", "Work.Do", new Ping($"{i}"), new CallOptions { Timeout = TimeSpan.FromSeconds(5) }))
            .ToList();
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) > 0, TimeSpan.FromSeconds(5), "a call to reach the doomed node");
        await doomed.System.Terminate();

        var killed = DateTime.UtcNow;
        var replies = await Task.WhenAll(calls);
        Assert.All(replies, r => Assert.Equal("done", r));
        output.WriteLine($"8 calls, {Volatile.Read(ref arrived)} held by the dying node: all answered {(DateTime.UtcNow - killed).TotalMilliseconds:0} ms after its system ended");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4), $"failover took {DateTime.UtcNow - started}");
        // The dead node is sidelined: new calls go to the healthy one at once.
        for (var i = 0; i < 5; i++)
            Assert.Equal("done", await client.Client.CallAsync<string>("work", "Work.Do", new Ping("after"), new CallOptions { Timeout = TimeSpan.FromSeconds(2) }));
        Assert.NotEqual(healthy.Address, doomed.Address);
    }

    [Fact]
    public async Task Registry_watch_sees_a_node_join_and_leave()
    {
        await using var cluster = new TestCluster();
        var client = await cluster.StartClientAsync();
        var events = new ConcurrentQueue<RegistryEvent>();
        using var stopWatching = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            try { await foreach (var e in client.Registry.WatchAsync(stopWatching.Token)) events.Enqueue(e); }
            catch (OperationCanceledException) { }
        });

        var echo = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => { o.Version = "2.1.0"; o.Metadata["zone"] = "a"; });
        await Eventually.TrueAsync(() => events.Any(e => e.Kind == RegistryEventKind.Added), TimeSpan.FromSeconds(10), "Added");
        var added = events.First(e => e.Kind == RegistryEventKind.Added).Node;
        Assert.Equal(("echo", "2.1.0", echo.Address, "a"), (added.Service, added.Version, added.HostPort, added.Metadata["zone"]));
        Assert.Contains(added.Endpoints, e => e.Name == "Echo.Ping" && e.RequestType == typeof(Ping).FullName && e.ResponseType == typeof(Pong).FullName);

        await echo.StopAsync();
        await Eventually.TrueAsync(() => events.Any(e => e.Kind == RegistryEventKind.Removed), TimeSpan.FromSeconds(10), "Removed");
        Assert.Contains(events, e => e.Kind == RegistryEventKind.Updated && e.Node.Status == NodeStatus.Leaving);
        stopWatching.Cancel();
        await watching;

        Assert.Null(await client.Registry.GetServiceAsync("echo"));
        Assert.Empty(await client.Registry.ListServicesAsync());
    }

    [Fact]
    public async Task Registry_lists_services_with_versions_and_node_counts()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Version = "1.0.0");
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Version = "1.1.0");
        await cluster.StartServiceAsync("other", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 2);
        await TestCluster.WaitForNodesAsync(client, "other", 1);

        var services = await client.Registry.ListServicesAsync();
        Assert.Equal([new("echo", ["1.0.0", "1.1.0"], 2), new("other", ["latest"], 1)], services.Select(s => s with { Versions = s.Versions.ToList() }).ToList(),
            new SummaryComparer());
    }

    private sealed class SummaryComparer : IEqualityComparer<ServiceSummary>
    {
        public bool Equals(ServiceSummary? x, ServiceSummary? y) =>
            x is not null && y is not null && x.Name == y.Name && x.Nodes == y.Nodes && x.Versions.SequenceEqual(y.Versions);
        public int GetHashCode(ServiceSummary obj) => obj.Name.GetHashCode();
    }
}
