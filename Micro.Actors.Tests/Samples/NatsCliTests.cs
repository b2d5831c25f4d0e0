using System.Text.Json;
using Micro.Actors.Nats;
using Micro.Actors.Tests.Broker;
using Micro.Actors.Tests.Support;
using Xunit;

namespace Micro.Actors.Tests.Samples;

/// <summary>`micro publish` and `micro events` on the NATS broker: real micro processes, a real nats-server, a greeter to join through.</summary>
// In the default lane, beside the in-process tests: the Processes lane is the longer one.
public sealed class NatsCliTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Micro_publishes_through_nats_follows_a_topic_from_its_start_and_lists_its_dead_letters()
    {
        using var nats = NatsServer.Start();
        var port = TestCluster.FreePort();
        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{port}");
        await greeter.WaitForLogAsync("is Up in cluster", Startup);
        string[] Micro(params string[] args) =>
            [ProcessRunner.Built("Micro.Actors.Cli", "micro.dll"), .. args, "--seed", $"127.0.0.1:{port}", "--broker", "nats", "--nats", nats.Url];
        async Task<(int Exit, string Out, string Err)> Run(params string[] args)
        {
            using var p = ProcessRunner.Start("dotnet", Micro(args));
            var exit = await p.WaitForExitAsync(Startup);
            return (exit, string.Join('\n', p.Stdout), string.Join('\n', p.Stderr));
        }

        // No subscriber has ever taken the topic: the publish says so (404, exit 3) rather than store it for nobody.
        var nobody = await Run("publish", "cli-orders", """{"number":1,"item":"pen"}""", "--type", "Order", "--timeout", "3");
        Assert.True(nobody.Exit == 3, nobody.Err);
        Assert.Contains("no subscriber of topic 'cli-orders'", nobody.Err);

        using var follower = ProcessRunner.Start("dotnet", Micro("events", "cli-orders", "--from", "all", "--count", "2", "-o", "json", "--timeout", "15"));
        await follower.WaitForLogAsync("following cli-orders from all through nats", Startup);
        foreach (var n in new[] { 1, 2 })
        {
            var published = await Run("publish", "cli-orders", $$"""{"number":{{n}},"item":"pen"}""", "--type", "Order", "-H", "tenant=t1", "--timeout", "15");
            Assert.True(published.Exit == 0, published.Err);
        }
        Assert.Equal(0, await follower.WaitForExitAsync(Startup));
        var lines = follower.Stdout.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1, 2], lines.Select(l => l.GetProperty("body").GetProperty("number").GetInt32()));
        Assert.All(lines, l => Assert.Equal("Order", l.GetProperty("type").GetString()));
        Assert.All(lines, l => Assert.Equal("t1", l.GetProperty("headers").GetProperty("tenant").GetString()));

        // A subscriber that always fails (one attempt): the event is a dead letter, and micro lists it with the reason.
        await using var cluster = new TestCluster();
        var node = await cluster.StartServiceAsync("always-fails", s => s.Subscribe<Order>("cli-fails", (_, _) => throw new InvalidOperationException("boom"), queue: "q"), o =>
        {
            o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{nats.Url}\"\nmicro.nats.max-attempts = 1";
            o.UseNats();
        });
        await node.Broker.PublishAsync("cli-fails", new Order(7, "x"));
        var dead = await Run("events", "cli-fails", "--dead-letter", "--from", "all", "--count", "1", "--timeout", "15");
        Assert.True(dead.Exit == 0, dead.Err);
        Assert.Contains("""{"number":7,"item":"x"}""", dead.Out);
        Assert.Contains("reason: the handler failed 1 time(s), the last: InvalidOperationException: boom", dead.Out);

        var bad = await Run("events", "cli-orders", "--from", "yesterday");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("is not a start", bad.Err);
    }
}
