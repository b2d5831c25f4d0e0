using System.Net;
using System.Net.Sockets;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Service;

/// <summary>Starting a node: where it listens, what a failed bind says, and waits that end when the node does.</summary>
public sealed class StartTests
{
    private static Action<MicroServiceOptions> Quiet(Action<MicroServiceOptions>? more = null) => o =>
    {
        o.ClusterName = "start-" + Guid.NewGuid().ToString("N")[..8];
        o.Config = TestCluster.FastConfig;
        o.Environment = new Dictionary<string, string?>();
        more?.Invoke(o);
    };

    [Fact]
    public async Task A_second_node_on_an_actor_system_that_runs_one_is_refused_with_a_clear_error()
    {
        await using var first = MicroService.Create("first", Quiet(o => o.Port = 0));
        await first.StartAsync();
        await using var second = MicroService.Create("second", Quiet(o => o.Port = 0));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => second.AttachAsync(first.System, ownsSystem: false, joinSeeds: false, CancellationToken.None));
        Assert.Contains("already runs the Micro.Actors node first: one node per actor system", refused.Message);
        Assert.Equal("ok", (await first.Client.CallAsync<Micro.Actors.Server.HealthReply>("first", Micro.Actors.Server.BuiltIn.Health, new object(),
            new Micro.Actors.Client.CallOptions { Timeout = TimeSpan.FromSeconds(10) })).Status); // the first is unharmed
    }

    [Fact]
    public async Task Client_only_nodes_take_any_free_port_so_two_on_one_host_both_start()
    {
        await using var cluster = new TestCluster();
        var seed = await cluster.StartServiceAsync("greeter");
        // Exactly as the README shows it: only a seed node, no port.
        await using var a = MicroService.CreateClient(o => { o.SeedNodes.Add(seed.Address); o.ClusterName = cluster.ClusterName; o.Config = TestCluster.FastConfig; o.Environment = new Dictionary<string, string?>(); });
        await using var b = MicroService.CreateClient(o => { o.SeedNodes.Add(seed.Address); o.ClusterName = cluster.ClusterName; o.Config = TestCluster.FastConfig; o.Environment = new Dictionary<string, string?>(); });
        Assert.Equal(0, a.Settings.Port);
        await a.StartAsync();
        await b.StartAsync();
        await Task.WhenAll(a.WhenReadyAsync(), b.WhenReadyAsync()).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotEqual(a.Address, b.Address);
        Assert.NotEqual(4053, int.Parse(a.Address.Split(':')[1]));
        // A service node keeps micro.port's default.
        Assert.Equal(4053, MicroService.Create("x", Quiet()).Settings.Port);
    }

    [Fact]
    public async Task A_port_in_use_is_one_clear_error_naming_the_address_the_port_and_the_settings_and_the_node_can_start_elsewhere()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var node = MicroService.Create("greeter", Quiet(o => o.Port = port));
        var e = await Assert.ThrowsAsync<MicroConfigException>(() => node.StartAsync());
        Assert.Equal($"Bad setting micro.port: cannot listen on 127.0.0.1:{port}: the address is already in use (another node or program has port {port}); " +
            "give this node another port with option Port (--port in the samples), MICRO_PORT, Micro:Port under a host, or micro.port, or 0 for any free port", e.Message);

        await using var again = MicroService.Create("greeter", Quiet(o => o.Port = 0));
        await again.StartAsync();
        await again.WhenUpAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Waiting_for_Up_or_ready_ends_when_the_node_stops_and_with_its_token()
    {
        using var dead = new DeadPort();
        await using var node = MicroService.CreateClient(Quiet(o => o.SeedNodes.Add($"127.0.0.1:{dead.Port}")));
        await node.StartAsync();

        using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => node.WhenUpAsync(soon.Token));

        var up = node.WhenUpAsync();
        var ready = node.WhenReadyAsync();
        await node.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var e = await Assert.ThrowsAsync<MicroException>(() => up.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(503, e.Error.Code);
        Assert.Contains("stopped before it was Up", e.Error.Detail);
        await Assert.ThrowsAsync<MicroException>(() => ready.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_node_that_gives_up_joining_fails_its_waits_naming_the_seed()
    {
        using var dead = new DeadPort();
        await using var node = MicroService.CreateClient(Quiet(o =>
        {
            o.SeedNodes.Add($"127.0.0.1:{dead.Port}");
            o.Config += "\nakka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 2s";
        }));
        await node.StartAsync();
        var e = await Assert.ThrowsAsync<MicroException>(() => node.WhenUpAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("gave up joining the cluster", e.Error.Detail);
        Assert.Contains($"127.0.0.1:{dead.Port}", e.Error.Detail);
    }
}
