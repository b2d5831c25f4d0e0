using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Micro.Actors.Broker;
using Micro.Actors.Nats;
using Micro.Actors.Samples.PubSub;
using Micro.Actors.Tests.Support;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Samples;

/// <summary>
/// At-least-once on NATS JetStream with real processes: subscriber samples in a queue group, one of them
/// killed with kill -9 and started again twice while events flow, a subscriber that fails every 10th event,
/// and a restart of nats-server itself on its store.
/// </summary>
// In the default lane, beside the in-process tests: the Processes lane is the longer one.
public sealed partial class NatsFaultProcessTests(ITestOutputHelper output)
{
    private const int Events = 10_000;
    private const int Prefetch = 64;
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_event_reaches_the_queue_group_through_two_kills_the_failing_ones_end_as_dead_letters_and_a_server_restart_loses_nothing()
    {
        using var nats = NatsServer.Start();
        var env = new Dictionary<string, string>
        {
            ["Micro__Broker"] = "nats",
            ["Micro__Nats__Url"] = nats.Url,
            ["Micro__Nats__HandlerTimeout"] = "2s", // a killed member's unacked events come again after 4 s
            ["Micro__Nats__MaxAttempts"] = "3",
            ["Micro__Nats__Backoff"] = "100ms,200ms",
            ["Micro__Nats__Prefetch"] = $"{Prefetch}",
        };
        var seedPort = TestCluster.FreePort();
        var seed = $"127.0.0.1:{seedPort}";
        using var a = ProcessRunner.StartSample(env, "subscriber", "--topic", "fault", "--queue", "billing", "--port", $"{seedPort}");
        await a.WaitForLogAsync("is Up in cluster", Startup);
        var members = new List<ProcessRunner> { a };
        ProcessRunner StartB() => ProcessRunner.StartSample(env, "subscriber", "--topic", "fault", "--queue", "billing", "--port", "0", "--seed", seed);
        var b = StartB();
        members.Add(b);
        using var failing = ProcessRunner.StartSample(env, "subscriber", "--topic", "fault", "--queue", "audit", "--fail-every", "10", "--port", "0", "--seed", seed);
        await Task.WhenAll(b.WaitForLogAsync("is Up in cluster", Startup), failing.WaitForLogAsync("is Up in cluster", Startup));

        // The publisher: a node of the test's own on the same server, counting what JetStream acknowledged.
        await using var cluster = new TestCluster();
        var publisher = await cluster.StartClientAsync(o =>
        {
            o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{nats.Url}\"";
            o.UseNats();
        });
        var dead = new ConcurrentDictionary<int, string>();
        await using var letters = await publisher.Broker.SubscribeAsync<Tick>(NatsBroker.DeadLetterTopic("fault"), (t, e) =>
        {
            dead[t.Number] = e.Headers[NatsBroker.DeadReasonHeader];
            return Task.CompletedTask;
        }, new SubscribeOptions { From = StartPosition.All }, CancellationToken.None);

        // 10,000 events at a steady 500/s (10 every 20 ms), 20 s. Meanwhile member b is killed (kill -9) once it has taken 50 events
        // (it is a member then, whatever its start took), started again, and killed again once the new one has taken 50.
        IEnumerable<int> Handled(IEnumerable<ProcessRunner> ps) => ps.SelectMany(p => p.Stdout).Select(l => EventLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value));
        var watch = Stopwatch.StartNew();
        var killer = Task.Run(async () =>
        {
            for (var kill = 1; kill <= 2; kill++)
            {
                var current = b;
                await Eventually.TrueAsync(() => Handled([current]).Count() >= 50, TimeSpan.FromSeconds(60), $"member b ({kill}) to take 50 events before it is killed");
                current.Kill();
                await Eventually.TrueAsync(current.IsGone, TimeSpan.FromSeconds(10), "the killed member to be gone");
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: killed b (pid {current.Id}) after {Handled([current]).Count()} events");
                b = StartB();
                members.Add(b);
            }
        });
        // At least 10,000: should the second kill not have come yet (a slow start of the new member), publishing goes on until it has.
        var acked = 0;
        for (var i = 1; (i <= Events || !killer.IsCompleted) && i <= 3 * Events; i += 10)
        {
            await Task.WhenAll(Enumerable.Range(i, 10).Select(n => publisher.Broker.PublishAsync("fault", new Tick(n, $"tick {n}"), new PublishOptions { Id = $"fault-{n}" })));
            acked += 10;
            var due = TimeSpan.FromMilliseconds((i + 9) * 2.0);
            if (watch.Elapsed < due) await Task.Delay(due - watch.Elapsed);
        }
        output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: {acked} events acked by JetStream");
        var total = acked;

        await killer.WaitAsync(TimeSpan.FromSeconds(60));
        // Every event handled at least once by the queue group, whichever member (and incarnation) had it.
        await Eventually.TrueAsync(() => Handled(members).Distinct().Count() == total, TimeSpan.FromSeconds(60),
            $"all {total} events at the queue group (so far {Handled(members).Distinct().Count()})");
        var lines = Handled(members).ToList();
        var duplicates = lines.Count - total;
        output.WriteLine($"queue group: {total} distinct, {duplicates} duplicates; per incarnation: {string.Join(", ", members.Select(m => Handled([m]).Count()))}");
        Assert.Equal(Enumerable.Range(1, total), lines.Distinct().Order());
        // A duplicate is an event a killed member took (handled or fetched) but had not acked: at most its prefetch and the one in hand, per kill.
        Assert.InRange(duplicates, 0, 2 * (Prefetch + 1));

        // The failing subscriber: 9 of 10 handled; every 10th tried 3 times, then a dead letter with the reason.
        await Eventually.TrueAsync(() => dead.Count == total / 10 && Handled([failing]).Distinct().Count() == total - total / 10, TimeSpan.FromSeconds(60),
            $"{total / 10} dead letters (so far {dead.Count}) and the rest handled by the failing subscriber");
        Assert.All(dead.Keys, n => Assert.Equal(0, n % 10));
        Assert.All(dead.Values, r => Assert.Contains("the handler failed 3 time(s), the last: InvalidOperationException: event", r));
        Assert.DoesNotContain(Handled([failing]), n => n % 10 == 0);

        // nats-server killed and started on its store: every acknowledged event is still there, and the group goes on.
        nats.Restart();
        await using (var check = new NatsConnection(NatsOpts.Default with { Url = nats.Url }))
            Assert.Equal(total, (long)(await new NatsJSContext(check).GetStreamAsync("MICRO_fault")).Info.State.Messages);
        await Eventually.TrueAsync(async () =>
        {
            try { await publisher.Broker.PublishAsync("fault", new Tick(total + 1, "after the restart"), new PublishOptions { Id = "fault-after" }); return true; }
            catch (Errors.MicroException) { return false; } // still reconnecting
        }, TimeSpan.FromSeconds(30), "a publish after the server's restart");
        await Eventually.TrueAsync(() => Handled(members).Contains(total + 1), TimeSpan.FromSeconds(30), "the queue group to take the event after the restart");
        foreach (var m in members.Skip(1).SkipLast(1)) m.Dispose();
        b.Dispose();
    }

    [GeneratedRegex(@"^event (\d+) ")]
    private static partial Regex EventLine();
}
