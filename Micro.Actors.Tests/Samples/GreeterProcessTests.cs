using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>End to end: real greeter and client processes on 127.0.0.1.</summary>
[Collection(ProcessesLane.Name)]
public sealed class GreeterProcessTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_greeters_and_a_client_process_every_call_answered_by_both_nodes()
    {
        var (p1, p2) = (TestCluster.FreePort(), TestCluster.FreePort());
        using var g1 = ProcessRunner.StartSample("greeter", "--port", $"{p1}");
        await g1.WaitForLogAsync("is Up in cluster", Startup);
        using var g2 = ProcessRunner.StartSample("greeter", "--port", $"{p2}", "--seed", $"127.0.0.1:{p1}");
        await g2.WaitForLogAsync("is Up in cluster", Startup);

        using var client = ProcessRunner.StartSample("greeter-client", "--count", "40", "--seed", $"127.0.0.1:{p1}");
        var exit = await client.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exit == 0, client.Describe());
        var lines = client.Stdout;
        Assert.Equal(40, lines.Count);
        Assert.All(lines, l => Assert.Matches(@"^\d+: Hello Ann from 127\.0\.0\.1:\d+$", l));
        Assert.Contains(lines, l => l.EndsWith($":{p1}"));
        Assert.Contains(lines, l => l.EndsWith($":{p2}"));

        // SIGTERM is a graceful leave: both greeters exit 0.
        g2.Terminate();
        g1.Terminate();
        Assert.Equal(0, await g2.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await g1.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task A_client_that_cannot_reach_its_seed_fails_with_a_message_and_a_non_zero_exit()
    {
        using var dead = new DeadPort();
        var port = dead.Port;
        using var client = ProcessRunner.StartSample("greeter-client", "--count", "1", "--seed", $"127.0.0.1:{port}");
        var exit = await client.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exit);
        Assert.Empty(client.Stdout);
        Assert.Contains(client.Stderr, l => l.StartsWith("error: 408") && l.Contains($"127.0.0.1:{port}"));
    }

    [Fact]
    public async Task The_demo_runs_on_one_local_node_and_exits_0()
    {
        using var demo = ProcessRunner.StartSample();
        var exit = await demo.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exit == 0, demo.Describe());
        Assert.Contains(demo.Stdout, l => l.StartsWith("Greeter.Hello(Ann) -> Hello Ann from 127.0.0.1:"));
        Assert.Contains(demo.Stdout, l => l.StartsWith("Greeter.Bye -> error 404"));
    }
}
