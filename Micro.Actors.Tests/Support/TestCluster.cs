using System.Net;
using System.Net.Sockets;
using Micro.Actors.Service;

namespace Micro.Actors.Tests.Support;

/// <summary>
/// Several services (ActorSystems) on 127.0.0.1 in this process, one cluster per test.
/// Ports are taken by the OS (port 0); the first node seeds the cluster, the rest join it.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    /// <summary>Faster gossip for tests (AKKA-NOTES: 3 nodes Up in ~0.3 s instead of ~1.1 s).</summary>
    public const string FastConfig = """
        akka.loglevel = WARNING
        akka.cluster.gossip-interval = 200ms
        akka.cluster.leader-actions-interval = 200ms
        akka.cluster.periodic-tasks-initial-delay = 100ms
        akka.cluster.seed-node-timeout = 2s
        akka.cluster.retry-unsuccessful-join-after = 1s
        akka.cluster.split-brain-resolver.stable-after = 3s
        micro.server.drain-timeout = 5s
        akka.coordinated-shutdown.exit-clr = off
        akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
        """;

    private readonly List<MicroService> _nodes = [];
    private readonly string _clusterName = "test-" + Guid.NewGuid().ToString("N")[..8];
    private string? _seed;

    public IReadOnlyList<MicroService> Nodes => _nodes;

    /// <summary>This test's cluster name (a hosted node joins with it).</summary>
    public string ClusterName => _clusterName;

    /// <summary>"host:port" of the first node, the seed of the others; null before one has started.</summary>
    public string? Seed => _seed;

    /// <summary>Starts a service node; <paramref name="register"/> adds its handlers.</summary>
    public Task<MicroService> StartServiceAsync(string name, Action<MicroService>? register = null,
        Action<MicroServiceOptions>? configure = null, bool waitUntilUp = true) =>
        StartAsync(o => MicroService.Create(name, o), register, configure, waitUntilUp);

    /// <summary>Starts a client-only node (no role).</summary>
    public Task<MicroService> StartClientAsync(Action<MicroServiceOptions>? configure = null, bool waitUntilUp = true) =>
        StartAsync(MicroService.CreateClient, null, configure, waitUntilUp);

    private async Task<MicroService> StartAsync(Func<Action<MicroServiceOptions>, MicroService> create,
        Action<MicroService>? register, Action<MicroServiceOptions>? configure, bool waitUntilUp)
    {
        var service = create(o =>
        {
            o.ClusterName = _clusterName;
            o.Host = "127.0.0.1";
            o.Port = 0;
            o.Config = FastConfig;
            o.Environment = new Dictionary<string, string?>(); // never the developer's MICRO_* variables
            if (_seed is not null) o.SeedNodes.Add(_seed);
            configure?.Invoke(o);
        });
        register?.Invoke(service);
        _nodes.Add(service);
        await service.StartAsync();
        _seed ??= service.Address;
        if (waitUntilUp) await service.WhenUpAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return service;
    }

    /// <summary>Waits until <paramref name="node"/>'s registry lists <paramref name="count"/> nodes of <paramref name="service"/>.</summary>
    public static Task WaitForNodesAsync(MicroService node, string service, int count) =>
        Eventually.TrueAsync(async () => (await node.Registry.GetServiceAsync(service))?.Nodes.Count(n => n.Status == Micro.Actors.Registry.NodeStatus.Up) == count,
            TimeSpan.FromSeconds(20), $"{node.Address} to see {count} Up node(s) of {service}");

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_nodes.Select(async n =>
        {
            try { await n.StopAsync().WaitAsync(TimeSpan.FromSeconds(30)); }
            catch (Exception) { /* a node a test already stopped or crashed */ }
        }));
    }

    /// <summary>A port nobody listens on right now, for a process to take.</summary>
    // Each port is handed out once per test run, so two tests running side by side never get the same one. The ports
    // come from below the kernel's ephemeral range: a port the OS picked for another test's "port 0" node or for an
    // outbound connection (a test may open hundreds) can never be one handed out here.
    private static readonly HashSet<int> HandedOut = [];
    private static int _next = Math.Max(EphemeralStart() - 12_000, 10_000) + Random.Shared.Next(2_000);

    public static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                var port = _next++;
                if (!HandedOut.Add(port)) continue;
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start(); // taken by something else on this machine: try the next
                    return port;
                }
                catch (SocketException) { }
            }
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (Linux's default 32768 when it cannot be read).</summary>
    private static int EphemeralStart()
    {
        try { return int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0]); }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return 32768; }
    }
}

/// <summary>
/// A port where no node is, held for as long as a "seed is down" test needs it: bound but not
/// listening, so a connection is refused, and no node of a test running alongside can be given it
/// (as it could be given a free port that was only looked up).
/// </summary>
public sealed class DeadPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public DeadPort() => _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

    public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    public void Dispose() => _socket.Dispose();
}

/// <summary>Waiting on conditions with deadlines, never bare sleeps.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition()) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:0.#} s for {what}");
            await Task.Delay(25);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        TrueAsync(() => Task.FromResult(condition()), timeout, what);
}
