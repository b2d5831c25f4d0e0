using System.Text.RegularExpressions;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>End to end: real subscriber and publisher processes.</summary>
[Collection(ProcessesLane.Name)]
public sealed class PubSubProcessTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_publisher_process_reaches_a_queue_group_of_two_subscriber_processes_each_event_once()
    {
        var (p1, p2) = (TestCluster.FreePort(), TestCluster.FreePort());
        using var s1 = ProcessRunner.StartSample("subscriber", "--topic", "ticks", "--queue", "q", "--port", $"{p1}");
        await s1.WaitForLogAsync("is Up in cluster", Startup);
        using var s2 = ProcessRunner.StartSample("subscriber", "--topic", "ticks", "--queue", "q", "--port", $"{p2}", "--seed", $"127.0.0.1:{p1}");
        await s2.WaitForLogAsync("is Up in cluster", Startup);

        using var publisher = ProcessRunner.StartSample("publisher", "--topic", "ticks", "--count", "20", "--seed", $"127.0.0.1:{p1}");
        Assert.True(await publisher.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, publisher.Describe());
        Assert.Equal(20, publisher.Stdout.Count(l => l.StartsWith("published ")));

        IEnumerable<int> Numbers(ProcessRunner p) => p.Stdout
            .Select(l => Regex.Match(l, @"^event (\d+) "))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value));
        await Eventually.TrueAsync(() => Numbers(s1).Count() + Numbers(s2).Count() >= 20, TimeSpan.FromSeconds(10), "20 events at the queue group");
        Assert.Equal(Enumerable.Range(1, 20), Numbers(s1).Concat(Numbers(s2)).Order());
        Assert.All(s1.Stdout.Concat(s2.Stdout), l => Assert.StartsWith("event ", l));

        s2.Terminate();
        s1.Terminate();
        Assert.Equal(0, await s2.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await s1.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }
}
