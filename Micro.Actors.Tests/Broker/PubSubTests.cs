using System.Collections.Concurrent;
using Micro.Actors.Broker;
using Micro.Actors.Errors;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Broker;

public sealed record Numbered(int N);

/// <summary>Publish/subscribe across a real 3-node cluster.</summary>
public sealed class PubSubTests
{
    /// <summary>What one subscriber received (probes, N &lt; 0, are counted apart).</summary>
    private sealed class Inbox
    {
        public readonly ConcurrentQueue<(int N, EventContext Context)> Events = new();
        public int Probes;

        public Task Handle(Numbered m, EventContext c)
        {
            if (m.N < 0) Interlocked.Increment(ref Probes);
            else Events.Enqueue((m.N, c));
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// Subscriptions spread by gossip: publish probes until every inbox has seen one, so the real
    /// events that follow reach every subscriber (AKKA-NOTES: detect propagation by probing).
    /// </summary>
    private static Task ProbeUntilAllSeeAsync(MicroService publisher, string topic, params Inbox[] inboxes) =>
        Eventually.TrueAsync(async () =>
        {
            await publisher.Broker.PublishAsync(topic, new Numbered(-1), new PublishOptions { OnePerQueue = false });
            await Task.Delay(50);
            return inboxes.All(i => Volatile.Read(ref i.Probes) > 0);
        }, TimeSpan.FromSeconds(15), $"every subscriber of {topic} to be known");

    [Fact]
    public async Task An_event_published_on_one_node_reaches_subscribers_on_the_two_others_with_its_envelope()
    {
        await using var cluster = new TestCluster();
        var (b, c) = (new Inbox(), new Inbox());
        var publisher = await cluster.StartServiceAsync("publisher");
        await cluster.StartServiceAsync("orders", s => s.Subscribe<Numbered>("orders", b.Handle));
        await cluster.StartServiceAsync("audit", s => s.Subscribe<Numbered>("orders", c.Handle));
        await ProbeUntilAllSeeAsync(publisher, "orders", b, c);

        var before = DateTime.UtcNow;
        await publisher.Client.PublishAsync("orders", new Numbered(1), new PublishOptions { Headers = new Dictionary<string, string> { ["tenant"] = "t1" } });

        await Eventually.TrueAsync(() => !b.Events.IsEmpty && !c.Events.IsEmpty, TimeSpan.FromSeconds(5), "the event on both nodes");
        var (n, context) = b.Events.Single();
        Assert.Equal(1, n);
        Assert.Equal("orders", context.Topic);
        Assert.Equal("t1", context.Headers["tenant"]);
        Assert.Equal(32, context.Id.Length);
        Assert.Equal("application/x-hyperion", context.ContentType);
        Assert.InRange(context.PublishedUtc, before.AddSeconds(-1), DateTime.UtcNow);
        Assert.Equal(context.Id, c.Events.Single().Context.Id);
    }

    [Fact]
    public async Task A_queue_group_gets_each_event_once_and_a_subscriber_without_queue_gets_every_event()
    {
        await using var cluster = new TestCluster();
        var (q1, q2, all) = (new Inbox(), new Inbox(), new Inbox());
        var publisher = await cluster.StartServiceAsync("publisher");
        await cluster.StartServiceAsync("workers", s => s.Subscribe<Numbered>("jobs", q1.Handle, queue: "q"));
        await cluster.StartServiceAsync("workers", s => s
            .Subscribe<Numbered>("jobs", q2.Handle, queue: "q")
            .Subscribe<Numbered>("jobs", all.Handle));
        await ProbeUntilAllSeeAsync(publisher, "jobs", q1, q2, all);

        for (var i = 1; i <= 100; i++) await publisher.Broker.PublishAsync("jobs", new Numbered(i));

        await Eventually.TrueAsync(() => q1.Events.Count + q2.Events.Count >= 100 && all.Events.Count >= 100, TimeSpan.FromSeconds(10), "100 events");
        await Task.Delay(300); // any duplicate would arrive within this
        var queued = q1.Events.Select(e => e.N).Concat(q2.Events.Select(e => e.N)).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 100), queued);
        Assert.Equal(Enumerable.Range(1, 100), all.Events.Select(e => e.N).Order());
        Assert.True(q1.Events.Count > 0 && q2.Events.Count > 0, $"both queue members work ({q1.Events.Count}/{q2.Events.Count})");

        // Broadcast: every member of the queue too.
        await publisher.Broker.PublishAsync("jobs", new Numbered(1000), new PublishOptions { OnePerQueue = false });
        await Eventually.TrueAsync(() => new[] { q1, q2, all }.All(i => i.Events.Any(e => e.N == 1000)), TimeSpan.FromSeconds(5), "the broadcast everywhere");
    }

    [Fact]
    public async Task A_burst_from_many_threads_arrives_whole_once_per_queue_spread_over_its_members_and_in_order_one_at_a_time_for_an_awaiting_subscriber()
    {
        await using var cluster = new TestCluster();
        var (q1, q2, probe) = (new Inbox(), new Inbox(), new Inbox());
        var ordered = new ConcurrentQueue<(int Thread, int N)>();
        var (running, overlapped) = (0, 0);
        var publisher = await cluster.StartServiceAsync("publisher");
        await cluster.StartServiceAsync("workers", s => s.Subscribe<Numbered>("burst", q1.Handle, queue: "q"));
        await cluster.StartServiceAsync("workers", s => s
            .Subscribe<Numbered>("burst", q2.Handle, queue: "q")
            .Subscribe<Numbered>("burst-all", async (m, c) =>
            {
                if (m.N < 0) { await probe.Handle(m, c); return; }
                if (Interlocked.Increment(ref running) > 1) Interlocked.Increment(ref overlapped);
                if (m.N % 7 == 0) await Task.Delay(1); // some events await: the rest of their batch must wait
                ordered.Enqueue((m.N / 10_000, m.N % 10_000));
                Interlocked.Decrement(ref running);
            }));
        await ProbeUntilAllSeeAsync(publisher, "burst", q1, q2);
        await ProbeUntilAllSeeAsync(publisher, "burst-all", probe);
        // The registry lists the queue group ("burst" leaves event by event) and no queue on "burst-all" (it leaves in batches).
        await Eventually.TrueAsync(async () => (await publisher.Registry.GetServiceAsync("workers"))!.Nodes.Sum(n => n.Subscriptions.Count) == 3,
            TimeSpan.FromSeconds(10), "the subscriptions in the publisher's registry");

        const int threads = 4, each = 500;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < each; i++)
            {
                await publisher.Broker.PublishAsync("burst", new Numbered(t * 10_000 + i));
                await publisher.Broker.PublishAsync("burst-all", new Numbered(t * 10_000 + i));
            }
        })));

        await Eventually.TrueAsync(() => q1.Events.Count + q2.Events.Count >= threads * each && ordered.Count >= threads * each,
            TimeSpan.FromSeconds(20), $"{threads * each} events (queue {q1.Events.Count + q2.Events.Count}, ordered {ordered.Count})");
        await Task.Delay(300); // any duplicate would arrive within this
        var expected = Enumerable.Range(0, threads).SelectMany(t => Enumerable.Range(0, each).Select(i => t * 10_000 + i)).Order();
        Assert.Equal(expected, q1.Events.Select(e => e.N).Concat(q2.Events.Select(e => e.N)).Order());
        Assert.True(q1.Events.Count > threads * each / 10 && q2.Events.Count > threads * each / 10, $"the queue shares the burst per event ({q1.Events.Count}/{q2.Events.Count})");
        Assert.Equal(0, overlapped);
        for (var t = 0; t < threads; t++) // each publishing thread's events in the order it published them
            Assert.Equal(Enumerable.Range(0, each), ordered.Where(e => e.Thread == t).Select(e => e.N));
    }

    [Fact]
    public async Task A_throwing_subscriber_is_logged_counted_and_keeps_receiving()
    {
        await using var cluster = new TestCluster();
        var seen = new ConcurrentQueue<int>();
        var probe = new Inbox();
        var publisher = await cluster.StartServiceAsync("publisher");
        var subscriber = await cluster.StartServiceAsync("fragile", s => s.Subscribe<Numbered>("fragile", (m, c) =>
        {
            if (m.N < 0) return probe.Handle(m, c);
            seen.Enqueue(m.N);
            if (m.N % 2 == 0) throw new InvalidOperationException($"cannot take {m.N}");
            return Task.CompletedTask;
        }));
        await ProbeUntilAllSeeAsync(publisher, "fragile", probe);

        for (var i = 1; i <= 6; i++) await publisher.Broker.PublishAsync("fragile", new Numbered(i));

        await Eventually.TrueAsync(() => seen.Count == 6, TimeSpan.FromSeconds(5), "all six events");
        Assert.Equal([1, 2, 3, 4, 5, 6], seen);
        var subscription = subscriber.Subscriptions.Single();
        Assert.Equal(3, subscription.Failed);
        Assert.True(subscription.Received >= 6);
    }

    [Fact]
    public async Task After_unsubscribe_nothing_arrives_and_the_registry_shows_the_change()
    {
        await using var cluster = new TestCluster();
        var inbox = new Inbox();
        var publisher = await cluster.StartServiceAsync("publisher");
        var consumer = await cluster.StartServiceAsync("consumer", s => s.Subscribe<Numbered>("news", inbox.Handle, queue: "readers"));
        await ProbeUntilAllSeeAsync(publisher, "news", inbox);
        var node = (await publisher.Registry.GetServiceAsync("consumer"))!.Nodes.Single();
        Assert.Equal([new SubscriptionInfo("news", "readers", typeof(Numbered).FullName!)], node.Subscriptions);

        await consumer.Subscriptions.Single().UnsubscribeAsync();
        await Eventually.TrueAsync(async () => (await publisher.Registry.GetServiceAsync("consumer"))!.Nodes.Single().Subscriptions.Count == 0,
            TimeSpan.FromSeconds(10), "the registry to drop the subscription");

        for (var i = 1; i <= 20; i++) await publisher.Broker.PublishAsync("news", new Numbered(i));
        var late = new Inbox();
        await using var marker = await consumer.Broker.SubscribeAsync<Numbered>("marker", late.Handle);
        await ProbeUntilAllSeeAsync(publisher, "marker", late); // time enough for any stray event to land
        Assert.Empty(inbox.Events);
    }

    [Fact]
    public async Task Unsubscribing_a_subscriber_stuck_in_its_handler_stops_it_after_the_drain_timeout()
    {
        await using var cluster = new TestCluster();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        var taken = 0;
        var inbox = new Inbox();
        var node = await cluster.StartServiceAsync("consumer", s => s
                .Subscribe<Numbered>("jobs", async (_, _) =>
                {
                    Interlocked.Increment(ref taken);
                    started.TrySetResult();
                    await never.Task; // a handler that never finishes
                })
                .Subscribe<Numbered>("jobs", inbox.Handle),
            o => o.Config = TestCluster.FastConfig + "\nmicro.server.drain-timeout = 1s");
        await ProbeUntilAllSeeAsync(node, "jobs", inbox);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await node.Subscriptions[0].UnsubscribeAsync();
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));

        // The other subscriber of the topic still gets events; the stopped one takes none.
        await node.Broker.PublishAsync("jobs", new Numbered(7));
        await Eventually.TrueAsync(() => inbox.Events.Any(e => e.N == 7), TimeSpan.FromSeconds(5), "the event at the other subscriber");
        Assert.Equal(1, Volatile.Read(ref taken));
    }

    [Fact]
    public async Task A_publish_that_waits_for_subscribers_fails_with_404_when_none_appears_and_delivers_when_one_does()
    {
        await using var cluster = new TestCluster();
        var publisher = await cluster.StartServiceAsync("publisher");

        var e = await Assert.ThrowsAsync<MicroException>(() => publisher.Broker.PublishAsync("void", new Numbered(1),
            new PublishOptions { WaitForSubscribers = TimeSpan.FromMilliseconds(500) }));
        Assert.Equal(404, e.Code);
        Assert.Contains("no subscriber of topic 'void'", e.Error.Detail);
        var timeout = await Assert.ThrowsAsync<MicroException>(() => publisher.Broker.WaitForSubscribersAsync("void", TimeSpan.FromMilliseconds(300)));
        Assert.Equal(408, timeout.Code);

        // Published before anyone subscribes: held, then delivered once the subscriber is known.
        var inbox = new Inbox();
        var pending = publisher.Broker.PublishAsync("later", new Numbered(7), new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(15) });
        await cluster.StartServiceAsync("late", s => s.Subscribe<Numbered>("later", inbox.Handle));
        await pending;
        await Eventually.TrueAsync(() => inbox.Events.Any(x => x.N == 7), TimeSpan.FromSeconds(5), "the held event");
        await publisher.Broker.WaitForSubscribersAsync("later", TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Actor_subscribers_receive_typed_messages_and_survive_their_failures()
    {
        await using var cluster = new TestCluster();
        var publisher = await cluster.StartServiceAsync("publisher");
        var consumer = await cluster.StartServiceAsync("consumer", s => s.Subscribe<RecordingSubscriber, Numbered>("actors"));
        await Eventually.TrueAsync(async () =>
        {
            await publisher.Broker.PublishAsync("actors", new Numbered(-1));
            await Task.Delay(50);
            return RecordingSubscriber.Seen.ContainsKey((consumer.Address, -1));
        }, TimeSpan.FromSeconds(15), "the actor subscriber to be known");

        await publisher.Broker.PublishAsync("actors", new Numbered(13)); // throws
        await publisher.Broker.PublishAsync("actors", new Numbered(14));
        await Eventually.TrueAsync(() => RecordingSubscriber.Seen.ContainsKey((consumer.Address, 14)), TimeSpan.FromSeconds(5), "event 14");
        Assert.Equal("actors", RecordingSubscriber.Seen[(consumer.Address, 14)]);
        Assert.Equal(1, consumer.Subscriptions.Single().Failed);
    }

    public sealed class RecordingSubscriber : MicroSubscriber
    {
        public static readonly ConcurrentDictionary<(string Node, int N), string> Seen = new();

        public RecordingSubscriber()
        {
            var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
            Receive<Numbered>(m =>
            {
                if (m.N == 13) throw new InvalidOperationException("unlucky");
                Seen[($"{self.Host}:{self.Port}", m.N)] = Event.Topic;
            });
        }
    }
}
