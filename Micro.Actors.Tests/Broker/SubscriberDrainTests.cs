using System.Collections.Concurrent;
using Micro.Actors.Broker;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Broker;

/// <summary>Unsubscribing (and so a graceful stop) lets an actor subscriber finish the events it has, also across an await.</summary>
public sealed class SubscriberDrainTests
{
    public sealed record Job(int N);

    public static readonly ConcurrentQueue<string> Seen = new();

    public sealed class SlowSubscriber : MicroSubscriber
    {
        public SlowSubscriber() =>
            ReceiveAsync<Job>(async j =>
            {
                Seen.Enqueue($"start {j.N}");
                await Task.Delay(400);
                Seen.Enqueue($"done {j.N}");
            });
    }

    [Fact]
    public async Task An_actor_subscriber_finishes_its_events_before_its_unsubscribe_returns()
    {
        Seen.Clear();
        await using var cluster = new TestCluster();
        var node = await cluster.StartServiceAsync("jobs", s => s.Subscribe<SlowSubscriber, Job>("jobs"));
        await node.Broker.WaitForSubscribersAsync("jobs", TimeSpan.FromSeconds(10));
        await node.Client.PublishAsync("jobs", new Job(1), new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(5) });
        await node.Client.PublishAsync("jobs", new Job(2), new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(5) });
        await Eventually.TrueAsync(() => Seen.Contains("start 1"), TimeSpan.FromSeconds(10), "the first job to start");

        await node.Subscriptions.Single().UnsubscribeAsync();

        Assert.Equal(["start 1", "done 1", "start 2", "done 2"], Seen.ToArray()); // both ran to the end, in order
        Assert.Equal(2, node.Subscriptions.Single().Received);
    }
}
