using System.Collections.Concurrent;
using Micro.Actors.Broker;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Broker;

/// <summary>Queue groups while a member dies: the survivors must get every event sent after the death is noticed.</summary>
public sealed class PubSubFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task When_a_queue_member_dies_the_other_member_gets_every_later_event()
    {
        await using var cluster = new TestCluster();
        var (survivor, doomedSeen) = (new ConcurrentDictionary<int, bool>(), new ConcurrentDictionary<int, bool>());
        int probes1 = 0, probes2 = 0;
        var publisher = await cluster.StartServiceAsync("publisher");
        await cluster.StartServiceAsync("workers", s => s.Subscribe<Numbered>("work", (m, _) =>
        {
            if (m.N < 0) Interlocked.Increment(ref probes1); else survivor[m.N] = true;
            return Task.CompletedTask;
        }, queue: "q"));
        var doomed = await cluster.StartServiceAsync("workers", s => s.Subscribe<Numbered>("work", (m, _) =>
        {
            if (m.N < 0) Interlocked.Increment(ref probes2); else doomedSeen[m.N] = true;
            return Task.CompletedTask;
        }, queue: "q"), o => o.Config = TestCluster.FastConfig + "\nakka.coordinated-shutdown.run-by-actor-system-terminate = off");
        await Eventually.TrueAsync(async () =>
        {
            await publisher.Broker.PublishAsync("work", new Numbered(-1), new PublishOptions { OnePerQueue = false });
            await Task.Delay(50);
            return Volatile.Read(ref probes1) > 0 && Volatile.Read(ref probes2) > 0;
        }, TimeSpan.FromSeconds(15), "both queue members to be known");

        var published = new ConcurrentDictionary<int, DateTime>();
        var publishing = Task.Run(async () =>
        {
            for (var n = 1; n <= 600; n++)
            {
                published[n] = DateTime.UtcNow;
                await publisher.Broker.PublishAsync("work", new Numbered(n));
                await Task.Delay(10);
            }
        });
        await Eventually.TrueAsync(() => published.Count > 100, TimeSpan.FromSeconds(10), "100 events out");
        var killed = DateTime.UtcNow;
        await doomed.System.Terminate(); // a crash: no leave
        await publishing;
        await Task.Delay(500);

        var lost = published.Keys.Where(n => !survivor.ContainsKey(n) && !doomedSeen.ContainsKey(n)).Order().ToList();
        var lostAfterDetection = lost.Where(n => published[n] > killed + TimeSpan.FromSeconds(3)).ToList();
        output.WriteLine($"{published.Count} events, {doomedSeen.Count} at the doomed member before it died, {lost.Count} lost " +
            $"(published {(lost.Count == 0 ? 0 : (published[lost[^1]] - killed).TotalMilliseconds):0} ms after the kill at the latest)");
        Assert.Empty(lostAfterDetection);
        Assert.True(survivor.Count > 300, $"survivor got {survivor.Count}");
    }
}
