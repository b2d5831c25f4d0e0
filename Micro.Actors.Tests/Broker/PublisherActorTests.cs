using Micro.Actors.Batching;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit.Xunit2;
using Micro.Actors.Broker;
using Micro.Actors.Registry;
using Micro.Actors.Service;

namespace Micro.Actors.Tests.Broker;

/// <summary>The publisher on its own: a probe plays the mediator, so what leaves, and how it is cut, is seen exactly.</summary>
public sealed class PublisherActorTests : TestKit
{
    private static Event Make(string topic, int n, int bodyBytes = 8) =>
        new(topic, $"id-{n}", "application/octet-stream", ImmutableDictionary<string, string>.Empty, DateTime.UtcNow, new byte[bodyBytes]);

    /// <summary>A registry view with one node holding <paramref name="subscriptions"/>.</summary>
    private static RegistryView View(params SubscriptionInfo[] subscriptions)
    {
        var node = new ServiceNode("127.0.0.1:1#1", new Address("akka.tcp", "test", "127.0.0.1", 1), "workers", "1.0.0",
            ImmutableDictionary<string, string>.Empty, [], NodeStatus.Up) { Subscriptions = subscriptions };
        return new RegistryView(ImmutableDictionary<string, ServiceNode>.Empty.Add(node.Id, node), ImmutableHashSet<string>.Empty, true, []);
    }

    /// <summary>A publisher over <paramref name="queue"/>, its registry view given (so it knows which topics have queue groups).</summary>
    private IActorRef StartOn(BurstQueue<PublisherActor.Outgoing> queue, Akka.TestKit.TestProbe mediator, RegistryView view)
    {
        var registry = CreateTestProbe();
        var publisher = Sys.ActorOf(Props.Create(() => new PublisherActor(queue, mediator.Ref, registry.Ref)));
        registry.ExpectMsg<RegistryActor.Subscribe>();
        publisher.Tell(view);
        return publisher;
    }

    private (BurstQueue<PublisherActor.Outgoing> Queue, Akka.TestKit.TestProbe Mediator) Start()
    {
        var mediator = CreateTestProbe();
        var queue = new BurstQueue<PublisherActor.Outgoing>(PublisherActor.Drain.Instance);
        queue.Actor = StartOn(queue, mediator, View());
        return (queue, mediator);
    }

    [Fact]
    public void A_lone_event_leaves_alone_and_a_burst_leaves_as_one_batch_per_topic_and_mode_in_order()
    {
        var (queue, mediator) = Start();
        queue.Post(new PublisherActor.Outgoing(Make("a", 0), true));
        var lone = mediator.ExpectMsg<Publish>();
        Assert.Equal("id-0", Assert.IsType<Event>(lone.Message).Id);

        // Filled before the actor is told (it is told once per burst, on the first item): one burst.
        var (held, heldMediator) = (new BurstQueue<PublisherActor.Outgoing>(PublisherActor.Drain.Instance), CreateTestProbe());
        for (var i = 1; i <= 10; i++) held.Post(new PublisherActor.Outgoing(Make(i % 2 == 0 ? "a" : "b", i), true));
        held.Post(new PublisherActor.Outgoing(Make("a", 11), false));
        held.Actor = StartOn(held, heldMediator, View(new SubscriptionInfo("a", null, "x"), new SubscriptionInfo("c", "workers", "x")));
        held.Actor.Tell(PublisherActor.Drain.Instance);

        var published = new[] { heldMediator.ExpectMsg<Publish>(), heldMediator.ExpectMsg<Publish>(), heldMediator.ExpectMsg<Publish>() };
        heldMediator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        var a = published.Single(p => p.Topic == "a" && p.SendOneMessageToEachGroup);
        Assert.Equal(["id-2", "id-4", "id-6", "id-8", "id-10"], Assert.IsType<EventBatch>(a.Message).Events.Select(e => e.Id));
        var b = published.Single(p => p.Topic == "b");
        Assert.Equal(["id-1", "id-3", "id-5", "id-7", "id-9"], Assert.IsType<EventBatch>(b.Message).Events.Select(e => e.Id));
        var broadcast = published.Single(p => !p.SendOneMessageToEachGroup);
        Assert.Equal("id-11", Assert.IsType<Event>(broadcast.Message).Id);
    }

    [Fact]
    public void A_burst_is_cut_to_stay_under_the_frame_and_a_big_event_goes_alone()
    {
        var (queue, mediator) = (new BurstQueue<PublisherActor.Outgoing>(PublisherActor.Drain.Instance), CreateTestProbe());
        for (var i = 0; i < 100; i++) queue.Post(new PublisherActor.Outgoing(Make("t", i), true));
        queue.Post(new PublisherActor.Outgoing(Make("t", 100, bodyBytes: 30_000), true));
        queue.Actor = StartOn(queue, mediator, View());
        queue.Actor.Tell(PublisherActor.Drain.Instance);

        var sizes = new List<int>();
        for (var i = 0; i < 3; i++)
            sizes.Add(mediator.ExpectMsg<Publish>().Message switch { EventBatch batch => batch.Events.Count, Event => 1, var m => throw new Xunit.Sdk.XunitException($"unexpected {m}") });
        mediator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal([64, 36, 1], sizes);
    }

    [Fact]
    public void A_topic_with_a_named_queue_group_or_an_unknown_registry_is_published_event_by_event()
    {
        foreach (var view in new RegistryView?[] { View(new SubscriptionInfo("jobs", null, "x"), new SubscriptionInfo("jobs", "workers", "x")), null })
        {
            var (queue, mediator) = (new BurstQueue<PublisherActor.Outgoing>(PublisherActor.Drain.Instance), CreateTestProbe());
            for (var i = 0; i < 5; i++) queue.Post(new PublisherActor.Outgoing(Make("jobs", i), true));
            for (var i = 5; i < 8; i++) queue.Post(new PublisherActor.Outgoing(Make("jobs", i), false)); // a broadcast still batches
            if (view is null)
            {
                var registry = CreateTestProbe();
                queue.Actor = Sys.ActorOf(Props.Create(() => new PublisherActor(queue, mediator.Ref, registry.Ref)));
                registry.ExpectMsg<RegistryActor.Subscribe>(); // and no view yet
            }
            else queue.Actor = StartOn(queue, mediator, view);
            queue.Actor.Tell(PublisherActor.Drain.Instance);

            var published = Enumerable.Range(0, 6).Select(_ => mediator.ExpectMsg<Publish>()).ToList();
            mediator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
            Assert.Equal(["id-0", "id-1", "id-2", "id-3", "id-4"], published.Where(p => p.SendOneMessageToEachGroup).Select(p => Assert.IsType<Event>(p.Message).Id));
            Assert.Equal(["id-5", "id-6", "id-7"], Assert.IsType<EventBatch>(published.Single(p => !p.SendOneMessageToEachGroup).Message).Events.Select(e => e.Id));
        }
    }

    [Fact]
    public void After_the_publisher_stops_a_posted_event_is_refused_not_left_waiting()
    {
        var (queue, mediator) = Start();
        Watch(queue.Actor);
        Sys.Stop(queue.Actor);
        ExpectTerminated(queue.Actor);
        EventFilter.Warning(contains: "was not published: this node is shutting down").ExpectOne(() =>
            queue.Post(new PublisherActor.Outgoing(Make("t", 1), true)));
        mediator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
