using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>SIGTERM always ends a process with a node, even one still trying to join a seed that is down.</summary>
[Collection(ProcessesLane.Name)]
public sealed class SignalTests
{
    [Fact]
    public async Task A_plain_node_waiting_for_a_dead_seed_ends_on_SIGTERM()
    {
        using var dead = new DeadPort();
        // The CLI is a plain MicroService (no host): it waits until ready, up to --timeout.
        using var cli = ProcessRunner.Start("dotnet", [ProcessRunner.Built("Micro.Actors.Cli", "micro.dll"), "services", "--seed", $"127.0.0.1:{dead.Port}", "--timeout", "120"],
            new Dictionary<string, string> { ["MICRO_TRACE"] = "1" });
        await cli.WaitForLogAsync("trace .* started", TimeSpan.FromSeconds(30));

        cli.Terminate();
        await cli.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(cli.IsGone(), cli.Describe());
    }

    [Fact]
    public async Task A_hosted_node_waiting_for_a_dead_seed_ends_on_SIGTERM()
    {
        using var dead = new DeadPort();
        using var greeter = ProcessRunner.StartSample(new Dictionary<string, string> { ["Micro__StartTimeout"] = "120s" },
            "greeter", "--port", "0", "--seed", $"127.0.0.1:{dead.Port}");
        await greeter.WaitForLogAsync("started at 127.0.0.1", TimeSpan.FromSeconds(30));

        greeter.Terminate();
        await greeter.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(greeter.IsGone(), greeter.Describe());
    }
}
