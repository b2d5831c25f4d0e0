using System.Collections.Concurrent;
using Akka.Actor;
using Micro.Actors.Client;
using Micro.Actors.Metadata;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Micro.Actors.Tests.Wrappers;

namespace Micro.Actors.Tests.Metadata;

public sealed record Relay(string How);

/// <summary>Calls Back.Echo from inside an actor handler: the request's metadata goes along by itself.</summary>
public sealed class RelayActor : MicroHandler
{
    public RelayActor(System.Runtime.CompilerServices.StrongBox<MicroService?> node) =>
        ReceiveAsync<Relay>(async r =>
        {
            var sender = Sender;
            await Task.Yield(); // the metadata follows the await
            sender.Tell(await node.Value!.Client.CallAsync<Heard>("back", "Back.Echo", new Ping(r.How)));
        });
}

/// <summary>go-micro's context metadata across three nodes: client → front → back, and front → publish → subscriber.</summary>
public sealed class PropagationTests
{
    [Fact]
    public async Task The_headers_of_the_request_being_served_flow_into_its_calls_and_publishes_unless_left_out()
    {
        var events = new ConcurrentQueue<Heard>();
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("back", s => s
            .Handle<Ping, Heard>("Back.Echo", (p, c) => Task.FromResult(new Heard(p.Text, c.Headers)))
            .Subscribe<Note>("relayed", (n, e) => { events.Enqueue(new Heard(n.Text, e.Headers)); return Task.CompletedTask; }));
        var box = new System.Runtime.CompilerServices.StrongBox<MicroService?>();
        MicroService? front = null;
        front = box.Value = await cluster.StartServiceAsync("front", s => s
            .Handle<Relay, Heard>("Front.Relay", async (r, c) =>
            {
                var client = front!.Client;
                switch (r.How)
                {
                    case "suppressed":
                        using (MetadataContext.Suppress()) return await client.CallAsync<Heard>("back", "Back.Echo", new Ping(r.How));
                    case "not-propagated":
                        return await client.CallAsync<Heard>("back", "Back.Echo", new Ping(r.How), new CallOptions { PropagateMetadata = false });
                    case "added":
                        using (MetadataContext.With("hop", "front"))
                        using (MetadataContext.Without("drop-me"))
                            return await client.CallAsync<Heard>("back", "Back.Echo", new Ping(r.How));
                    case "published":
                        await client.PublishAsync("relayed", new Note(r.How));
                        return new Heard(r.How, c.Headers);
                    default:
                        await Task.Yield();
                        return await client.CallAsync<Heard>("back", "Back.Echo", new Ping(r.How),
                            new CallOptions { Headers = new Dictionary<string, string> { ["explicit"] = "front" } });
                }
            })
            .Handle("Relay", Props.Create(() => new RelayActor(box)), e => e.Map<Relay, Heard>("Actor")));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "front", 1);
        await TestCluster.WaitForNodesAsync(front, "back", 1);
        var options = new CallOptions
        {
            Timeout = TimeSpan.FromSeconds(10),
            Headers = new Dictionary<string, string> { ["tenant"] = "t-7", ["drop-me"] = "x", ["explicit"] = "caller" },
        };

        var plain = await caller.Client.CallAsync<Heard>("front", "Front.Relay", new Relay("plain"), options);
        Assert.Equal("t-7", plain.Headers["tenant"]);
        Assert.Equal("front", plain.Headers["explicit"]); // the handler's own headers win over what flows in
        Assert.False(plain.Headers.ContainsKey(MetadataKeys.Attempt));

        var byActor = await caller.Client.CallAsync<Heard>("front", "Relay.Actor", new Relay("actor"), options);
        Assert.Equal("t-7", byActor.Headers["tenant"]);

        var added = await caller.Client.CallAsync<Heard>("front", "Front.Relay", new Relay("added"), options);
        Assert.Equal(("t-7", "front"), (added.Headers["tenant"], added.Headers["hop"]));
        Assert.False(added.Headers.ContainsKey("drop-me"));

        Assert.Empty((await caller.Client.CallAsync<Heard>("front", "Front.Relay", new Relay("suppressed"), options)).Headers);
        Assert.Empty((await caller.Client.CallAsync<Heard>("front", "Front.Relay", new Relay("not-propagated"), options)).Headers);

        await front.Broker.WaitForSubscribersAsync("relayed", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () =>
        {
            await caller.Client.CallAsync<Heard>("front", "Front.Relay", new Relay("published"), options);
            await Task.Delay(100);
            return !events.IsEmpty;
        }, TimeSpan.FromSeconds(20), "the relayed event");
        Assert.Equal("t-7", events.First().Headers["tenant"]);

        // Outside any handler nothing flows.
        Assert.Empty(MetadataContext.Current);
    }
}

/// <summary>The ambient metadata's own rules, without a cluster.</summary>
public sealed class MetadataContextTests
{
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    [Fact]
    public async Task Scopes_nest_follow_awaits_and_restore_what_was_before()
    {
        Assert.Empty(MetadataContext.Current);
        using (MetadataContext.With("a", "1"))
        {
            await Task.Yield();
            Assert.Equal("1", MetadataContext.Current["a"]);
            using (MetadataContext.With(new Dictionary<string, string> { ["a"] = "2", ["b"] = "3" }))
            {
                Assert.Equal(("2", "3"), (MetadataContext.Current["a"], MetadataContext.Current["b"]));
                using (MetadataContext.Without("a")) Assert.Equal(["b"], MetadataContext.Current.Keys);
                using (MetadataContext.Suppress()) Assert.Empty(MetadataContext.Current);
            }
            Assert.Equal(["a"], MetadataContext.Current.Keys);
        }
        Assert.Empty(MetadataContext.Current);
    }

    [Fact]
    public void Outgoing_headers_are_the_ambient_ones_under_the_explicit_ones_without_the_attempt()
    {
        Assert.Same(None, MetadataContext.Outgoing(None, propagate: true));
        using var scope = MetadataContext.Enter(new Dictionary<string, string> { ["tenant"] = "t", ["x"] = "ambient", [MetadataKeys.Attempt] = "2" });
        var merged = MetadataContext.Outgoing(new Dictionary<string, string> { ["x"] = "explicit" }, propagate: true);
        Assert.Equal(new Dictionary<string, string> { ["tenant"] = "t", ["x"] = "explicit" }, merged);
        Assert.Same(None, MetadataContext.Outgoing(None, propagate: false));
    }
}
