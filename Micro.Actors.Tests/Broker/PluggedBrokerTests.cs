using System.Collections.Concurrent;
using Micro.Actors.Broker;
using Micro.Actors.Metadata;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Micro.Actors.Tests.Wrappers;

namespace Micro.Actors.Tests.Broker;

/// <summary>A broker of the test's own: in this process, shared by the nodes that plug it in; one member per queue group.</summary>
public sealed class InProcessBroker : IBroker
{
    private sealed record Subscriber(string Topic, string? Queue, Func<object, EventContext, Task> Handle) : ISubscription
    {
        public long Received;
        string ISubscription.Topic => Topic;
        long ISubscription.Received => Interlocked.Read(ref Received);
        long ISubscription.Failed => 0;
        public Action? Removed { get; set; }
        public Task UnsubscribeAsync() { Removed?.Invoke(); return Task.CompletedTask; }
        public ValueTask DisposeAsync() => new(UnsubscribeAsync());
    }

    private readonly ConcurrentDictionary<Subscriber, byte> _subscribers = new();
    private int _next;

    public int Published;

    public async Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Published);
        var id = Guid.NewGuid().ToString("N");
        var chosen = _subscribers.Keys.Where(s => s.Topic == topic).GroupBy(s => s.Queue ?? Guid.NewGuid().ToString())
            .Select(g => g.ElementAt(Interlocked.Increment(ref _next) % g.Count()));
        foreach (var s in chosen.ToList())
        {
            Interlocked.Increment(ref s.Received);
            await s.Handle(message, new EventContext(topic, id, "application/x-in-process", options?.Headers ?? new Dictionary<string, string>(), DateTime.UtcNow, s.Queue));
        }
    }

    public Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null, CancellationToken cancellationToken = default)
    {
        var subscriber = new Subscriber(topic, queue, (m, c) => handler((T)m, c));
        subscriber.Removed = () => _subscribers.TryRemove(subscriber, out _);
        _subscribers[subscriber] = 0;
        return Task.FromResult<ISubscription>(subscriber);
    }

    public Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Eventually.TrueAsync(() => _subscribers.Keys.Any(s => s.Topic == topic), timeout, $"a subscriber of {topic}");
}

public sealed class PluggedBrokerTests
{
    [Fact]
    public async Task Publishes_and_declared_subscribers_go_through_a_broker_of_ones_own_with_the_nodes_wrappers_and_metadata()
    {
        var broker = new InProcessBroker();
        var got = new ConcurrentQueue<Heard>();
        var clusterGot = new ConcurrentQueue<Note>();
        await using var cluster = new TestCluster();
        MicroService? relay = null;
        relay = await cluster.StartServiceAsync("relay", s => s
            .Handle<Note, Note>("Relay.Publish", async (n, _) => { await relay!.Client.PublishAsync("notes", n); return n; })
            .Subscribe<Note>("notes", (n, e) => { got.Enqueue(new Heard(n.Text, e.Headers)); return Task.CompletedTask; }, queue: "audit"), o =>
            {
                o.Broker = _ => broker;
                o.Wrappers.AddPublish((p, next) => { p.Headers["x-published-by"] = "relay"; return next(p); });
                o.Wrappers.AddSubscriber((e, next) => { e.Headers["x-subscriber"] = "wrapped"; return next(e); });
            });
        // A node on the cluster's own broker does not hear what goes through the plugged one.
        var other = await cluster.StartServiceAsync("other", s => s.Subscribe<Note>("notes", (n, _) => { clusterGot.Enqueue(n); return Task.CompletedTask; }));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "relay", 1);
        await relay.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(5));

        await caller.Client.CallAsync<Note>("relay", "Relay.Publish", new Note("from a handler"), new Micro.Actors.Client.CallOptions
        {
            Timeout = TimeSpan.FromSeconds(10),
            Headers = new Dictionary<string, string> { ["tenant"] = "t-9" },
        });
        await relay.Broker.PublishAsync("notes", new Note("direct"));

        await Eventually.TrueAsync(() => got.Count == 2, TimeSpan.FromSeconds(10), "both notes");
        var fromHandler = got.Single(h => h.Text == "from a handler");
        Assert.Equal(("t-9", "relay", "wrapped"), (fromHandler.Headers["tenant"], fromHandler.Headers["x-published-by"], fromHandler.Headers["x-subscriber"]));
        Assert.False(got.Single(h => h.Text == "direct").Headers.ContainsKey("tenant"));
        Assert.Equal(2, broker.Published);
        Assert.Equal(2, relay.Subscriptions.Single().Received);
        Assert.Empty(clusterGot);
        var listed = (await caller.Registry.GetServiceAsync("relay"))!.Nodes.Single().Subscriptions.Single();
        Assert.Equal(("notes", "audit"), (listed.Topic, listed.Queue));

        var actor = Assert.Throws<InvalidOperationException>(() => MicroService.Create("x", o => o.Broker = _ => broker).Subscribe<RecordingSubscriber, Note>("notes"));
        Assert.Contains("needs the cluster's broker", actor.Message);
        _ = other;
    }
}
