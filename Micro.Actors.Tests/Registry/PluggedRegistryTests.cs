using System.Runtime.CompilerServices;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Registry;

/// <summary>A registry of the test's own: a fixed list of nodes, as a team with a static host list would write it.</summary>
public sealed class StaticRegistry(IReadOnlyList<ServiceNode> nodes) : IRegistry
{
    public Task<IReadOnlyList<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ServiceSummary>>(nodes.GroupBy(n => n.Service)
            .Select(g => new ServiceSummary(g.Key, g.Select(n => n.Version).Distinct().ToList(), g.Count())).ToList());

    public Task<ServiceInfo?> GetServiceAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(nodes.Where(n => n.Service == name).ToList() is { Count: > 0 } found ? new ServiceInfo(name, found) : null);

    public async IAsyncEnumerable<RegistryEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var node in nodes) yield return new RegistryEvent(RegistryEventKind.Added, node);
        try { await Task.Delay(Timeout.Infinite, cancellationToken); }
        catch (OperationCanceledException) { }
    }
}

public sealed class PluggedRegistryTests
{
    [Fact]
    public async Task Calls_and_streams_go_only_to_the_nodes_a_registry_of_ones_own_lists()
    {
        await using var cluster = new TestCluster();
        MicroService? listed = null;
        void Serve(MicroService s) => EchoHandler.Register(s.HandleServerStream<Ping, Ping>("Stream.Where", (p, _) => Where(listed!)));
        var unlisted = await cluster.StartServiceAsync("echo", Serve);
        listed = await cluster.StartServiceAsync("echo", Serve);
        await cluster.StartServiceAsync("other");
        await TestCluster.WaitForNodesAsync(unlisted, "echo", 2);
        // Only what a user could write down: id, address, service, version, endpoints (no actor refs).
        var known = (await unlisted.Registry.GetServiceAsync("echo"))!.Nodes.Single(n => n.HostPort == listed.Address);
        var node = new ServiceNode(known.Id, known.Address, "echo", "1.0", new Dictionary<string, string>(), known.Endpoints, NodeStatus.Up);
        var caller = await cluster.StartClientAsync(o => o.Registry = _ => new StaticRegistry([node]));

        for (var i = 0; i < 20; i++)
            Assert.Equal(listed.Address, (await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{i}"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) })).Node);
        await foreach (var where in caller.Client.StreamAsync<Ping>("echo", "Stream.Where", new Ping("?")))
            Assert.Equal(listed.Address, where.Text);
        Assert.Equal(["echo"], (await caller.Registry.ListServicesAsync()).Select(s => s.Name));
        Assert.Equal("1.0", (await caller.Registry.GetServiceAsync("echo"))!.Versions.Single());
        // A member of the cluster that the registry does not list is not there for this node.
        var other = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("other", "Echo.Ping", new Ping("x")));
        Assert.Equal(404, other.Error.Code);
    }

    /// <summary>A registry that cannot be read (its catalogue is down).</summary>
    private sealed class BrokenRegistry : IRegistry
    {
        public Task<IReadOnlyList<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("the catalogue is down");
        public Task<ServiceInfo?> GetServiceAsync(string name, CancellationToken cancellationToken = default) => throw new InvalidOperationException("the catalogue is down");
        public IAsyncEnumerable<RegistryEvent> WatchAsync(CancellationToken cancellationToken = default) => throw new InvalidOperationException("the catalogue is down");
    }

    [Fact]
    public async Task A_registry_of_ones_own_that_fails_makes_calls_fail_at_once_not_at_their_deadline()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var caller = await cluster.StartClientAsync(o => o.Registry = _ => new BrokenRegistry());

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) }));
        Assert.Equal(404, e.Error.Code);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    private static async IAsyncEnumerable<Ping> Where(MicroService node)
    {
        await Task.Yield();
        yield return new Ping(node.Address);
    }
}
