using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Remote;
using Akka.Remote.Transport;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Service;

/// <summary>
/// A network partition, made with Akka's throttling transport adapter (blackhole), inside one process:
/// the Split Brain Resolver (keep-majority) downs the minority, which stops; the majority keeps serving.
/// </summary>
public sealed class PartitionTests(ITestOutputHelper output)
{
    private const string Throttled = TestCluster.FastConfig + "\nakka.remote.micro-tcp.applied-adapters = [trttl]";

    private static Task Blackhole(MicroService from, MicroService to)
    {
        var transport = ((RemoteActorRefProvider)((ExtendedActorSystem)from.System).Provider).Transport;
        var target = Akka.Cluster.Cluster.Get(to.System).SelfAddress;
        return transport.ManagementCommand(new SetThrottle(target, ThrottleTransportAdapter.Direction.Both, Akka.Remote.Transport.Blackhole.Instance));
    }

    [Fact]
    public async Task The_minority_side_is_downed_and_stops_while_the_majority_serves_without_failed_calls()
    {
        await using var cluster = new TestCluster();
        void Configure(MicroServiceOptions o) => o.Config = Throttled;
        var majority = new List<MicroService>
        {
            await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), Configure),
            await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), Configure),
        };
        var minority = new List<MicroService>
        {
            await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), Configure),
            await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), Configure),
        };
        var client = await cluster.StartClientAsync(Configure);
        majority.Add(client);
        await TestCluster.WaitForNodesAsync(client, "echo", 4);
        foreach (var m in minority) await TestCluster.WaitForNodesAsync(m, "echo", 4);

        var failures = new ConcurrentQueue<string>();
        var served = new ConcurrentQueue<(DateTime At, string Node)>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try { served.Enqueue((DateTime.UtcNow, (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("p"))).Node)); }
                catch (Exception e) { failures.Enqueue(e.Message); }
            }
        })).ToList();
        await Eventually.TrueAsync(() => minority.All(m => served.Any(s => s.Node == m.Address)), TimeSpan.FromSeconds(10), "traffic on the minority");

        var cut = DateTime.UtcNow;
        foreach (var a in majority)
        foreach (var b in minority)
        {
            await Blackhole(a, b);
            await Blackhole(b, a);
        }

        // The minority downs itself (keep-majority) and its actor systems end.
        await Task.WhenAll(minority.Select(m => m.System.WhenTerminated)).WaitAsync(TimeSpan.FromSeconds(30));
        var minorityGone = DateTime.UtcNow - cut;
        var lastToMinority = served.Where(s => minority.Any(m => m.Address == s.Node)).Select(s => s.At).DefaultIfEmpty(cut).Max() - cut;
        await Eventually.TrueAsync(async () => (await client.Registry.GetServiceAsync("echo"))?.Nodes.Count == 2, TimeSpan.FromSeconds(30), "the minority to be removed");
        var before = served.Count;
        await Eventually.TrueAsync(() => served.Count > before + 100, TimeSpan.FromSeconds(10), "100 more calls on the majority");
        stop.Cancel();
        await Task.WhenAll(load);

        output.WriteLine($"partition: last answer from the minority {lastToMinority.TotalMilliseconds:0} ms after the cut, minority stopped after {minorityGone.TotalSeconds:0.0} s, {served.Count} calls, {failures.Count} failed");
        foreach (var f in failures.Distinct()) output.WriteLine("failed: " + f);
        Assert.Empty(failures);
        Assert.All(majority, m => Assert.False(m.System.WhenTerminated.IsCompleted));
        Assert.All(served.Where(s => s.At > cut + minorityGone), s => Assert.Contains(s.Node, majority.Select(m => m.Address)));
    }
}
