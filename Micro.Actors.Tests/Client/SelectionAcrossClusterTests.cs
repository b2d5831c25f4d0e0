using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Client;

/// <summary>Strategies, filters and retries, across a real cluster.</summary>
public sealed class SelectionAcrossClusterTests
{
    /// <summary>A plugged-in strategy: always the node with the lowest port.</summary>
    private sealed class LowestPortSelector : ISelector
    {
        public int Calls;
        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates)
        {
            Interlocked.Increment(ref Calls);
            return candidates.MinBy(n => n.Address.Port)!;
        }
    }

    [Fact]
    public async Task A_custom_strategy_decides_where_calls_go()
    {
        await using var cluster = new TestCluster();
        var a = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var b = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var selector = new LowestPortSelector();
        var client = await cluster.StartClientAsync(o => o.Selector = selector);
        await TestCluster.WaitForNodesAsync(client, "echo", 2);
        var lowest = new[] { a, b }.MinBy(n => int.Parse(n.Address.Split(':')[1]))!.Address;

        for (var i = 0; i < 20; i++)
            Assert.Equal(lowest, (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"))).Node);
        Assert.Equal(20, selector.Calls);

        // Per call, round-robin alternates.
        var rr = new CallOptions { Selector = new RoundRobinSelector() };
        var nodes = new List<string>();
        for (var i = 0; i < 4; i++) nodes.Add((await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"), rr)).Node);
        Assert.Equal(2, nodes.Distinct().Count());
        Assert.NotEqual(nodes[0], nodes[1]);
        Assert.Equal(nodes[0], nodes[2]);
    }

    [Fact]
    public async Task Filters_by_version_and_label_and_a_fixed_address()
    {
        await using var cluster = new TestCluster();
        var v1 = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => { o.Version = "1.0.0"; o.Metadata["zone"] = "east"; });
        var v2 = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => { o.Version = "2.0.0"; o.Metadata["zone"] = "west"; });
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 2);

        async Task<HashSet<string>> Served(CallOptions options)
        {
            var served = new HashSet<string>();
            for (var i = 0; i < 10; i++) served.Add((await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"), options)).Node);
            return served;
        }

        Assert.Equal([v2.Address], await Served(new CallOptions { Filters = [Filters.Version("2.0.0")] }));
        Assert.Equal([v1.Address], await Served(new CallOptions { Filters = [Filters.Label("zone", "east")] }));
        Assert.Equal([v2.Address], await Served(new CallOptions { Address = v2.Address }));
        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"),
            new CallOptions { Filters = [Filters.Version("9.9.9")] }));
        Assert.Equal(404, e.Code);
    }

    [Fact]
    public async Task An_overloaded_node_answers_503_and_the_call_is_retried_on_a_different_node()
    {
        await using var cluster = new TestCluster();
        // One handler and no queue: while it is busy, the node refuses at once with 503.
        var busy = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s, poolSize: 1), o => o.Config = TestCluster.FastConfig + "\nmicro.server.queue-size = 0");
        var spare = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 2);

        var hold = client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(2_000), new CallOptions { Address = busy.Address });
        var toBusyFirst = new CallOptions { Selector = new PreferSelector(busy.Address) };
        Assert.Equal(spare.Address, (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"), toBusyFirst)).Node);

        // The busy node is now sidelined, so the strategy no longer sees it; pinned to it, no retries: 503.
        Assert.Equal(spare.Address, (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"), toBusyFirst with { Retries = 0 })).Node);
        var noRetry = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"),
            new CallOptions { Address = busy.Address, Retries = 0 }));
        Assert.Equal(503, noRetry.Code);
        Assert.Contains("overloaded", noRetry.Error.Detail);
        await hold;
    }

    [Fact]
    public async Task Application_errors_are_not_retried_unless_the_caller_asks()
    {
        await using var cluster = new TestCluster();
        var attempts = 0;
        await cluster.StartServiceAsync("flaky", s => s.Handle<Ping, string>("Flaky.Do", (_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw MicroError.Conflict("flaky", "already done").ToException();
        }));
        await cluster.StartServiceAsync("flaky", s => s.Handle<Ping, string>("Flaky.Do", (_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw MicroError.Conflict("flaky", "already done").ToException();
        }));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "flaky", 2);

        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<string>("flaky", "Flaky.Do", new Ping("x"), new CallOptions { Retries = 3 }));
        Assert.Equal(409, e.Code);
        Assert.Equal(1, attempts);

        await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<string>("flaky", "Flaky.Do", new Ping("x"),
            new CallOptions { Retries = 3, RetryOn = err => err.Code == 409 }));
        // Only two nodes: a retry never goes back to a node this call already tried.
        Assert.Equal(3, attempts);
    }

    private sealed class PreferSelector(string address) : ISelector
    {
        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) =>
            candidates.FirstOrDefault(n => n.HostPort == address) ?? candidates[0];
    }
}
