using Akka.Actor;
using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Service;

/// <summary>Handlers that hang, queues with expired work, odd replies and failing plug-ins.</summary>
public sealed class RobustnessTests
{
    [Fact]
    public async Task A_handler_that_never_answers_is_replaced_and_its_group_keeps_serving()
    {
        await using var cluster = new TestCluster();
        var hang = true;
        var service = await cluster.StartServiceAsync("svc", s => s.Handle<Ping, string>("Svc.Do", async (p, ctx) =>
        {
            if (p.Text == "hang" && hang) await Task.Delay(Timeout.Infinite); // ignores its deadline
            return "done";
        }, poolSize: 1));

        var e = await Assert.ThrowsAsync<MicroException>(() => service.Client.CallAsync<string>("svc", "Svc.Do", new Ping("hang"),
            new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Equal(408, e.Code);
        // The only handler is stuck; within about a second past that deadline a fresh one takes its place.
        var watch = Stopwatch.StartNew();
        Assert.Equal("done", await service.Client.CallAsync<string>("svc", "Svc.Do", new Ping("ok"), new CallOptions { Timeout = TimeSpan.FromSeconds(5) }));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3.5), $"took {watch.Elapsed}");
        for (var i = 0; i < 5; i++) Assert.Equal("done", await service.Client.CallAsync<string>("svc", "Svc.Do", new Ping("ok")));
    }

    /// <summary>An actor handler that hangs on "hang" (ignoring its deadline) and echoes anything else.</summary>
    private sealed class HangOrEcho : MicroHandler
    {
        public HangOrEcho()
        {
            ReceiveAsync<Ping>(async p =>
            {
                var sender = Sender;
                if (p.Text == "hang") await Task.Delay(Timeout.Infinite);
                sender.Tell(p.Text);
            });
            ReceiveAsync<Slow>(async s =>
            {
                var sender = Sender;
                await Task.Delay(s.Milliseconds);
                sender.Tell("slow");
            });
        }
    }

    [Fact]
    public async Task Requests_given_to_a_handler_together_with_one_that_hangs_fail_over_promptly_with_503()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("svc", s => s.Handle<HangOrEcho>("Svc", e => e.Map<Ping, string>("Do").Map<Slow, string>("Slow"), poolSize: 1));
        var client = service.Client;
        Assert.Equal("warm", await client.CallAsync<string>("svc", "Svc.Do", new Ping("warm")));

        // The only handler is busy; the hanging request and three more queue behind it, and when it is free
        // it is given them together (more wait than handlers are idle).
        var slow = client.CallAsync<string>("svc", "Svc.Slow", new Slow(500));
        var hang = client.CallAsync<string>("svc", "Svc.Do", new Ping("hang"), new CallOptions { Timeout = TimeSpan.FromSeconds(2) });
        var behind = Enumerable.Range(0, 3).Select(i => client.CallAsync<string>("svc", "Svc.Do", new Ping($"p{i}"),
            new CallOptions { Timeout = TimeSpan.FromSeconds(15) })).ToList();
        Assert.Equal("slow", await slow);
        Assert.Equal(408, (await Assert.ThrowsAsync<MicroException>(() => hang)).Code);

        // When the stuck handler is replaced, the requests it held get 503 (worth retrying elsewhere), long before their deadline.
        var watch = Stopwatch.StartNew();
        foreach (var call in behind)
        {
            var e = await Assert.ThrowsAsync<MicroException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(503, e.Code);
            Assert.Contains("stuck", e.Message);
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.Equal("again", await client.CallAsync<string>("svc", "Svc.Do", new Ping("again"), new CallOptions { Timeout = TimeSpan.FromSeconds(5) }));
    }

    [Fact]
    public async Task A_queued_request_whose_deadline_passed_is_skipped_and_the_next_one_is_served()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s, poolSize: 1));
        var client = await cluster.StartClientAsync();
        await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("warm"));

        var busy = client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(1_000));
        await Task.Delay(100);
        var expired = client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("a"), new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        var served = client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("b"), new CallOptions { Timeout = TimeSpan.FromSeconds(5) });

        Assert.Equal(408, (await Assert.ThrowsAsync<MicroException>(() => expired)).Code);
        Assert.Equal("slow", (await busy).Text);
        Assert.Equal("b", (await served.WaitAsync(TimeSpan.FromSeconds(2))).Text);
        Assert.NotNull(service);
    }

    [Fact]
    public async Task A_service_calling_itself_gets_its_own_errors_at_once()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(() => service.Client.CallAsync<Pong>("echo", "Echo.Boom", new Boom("local")));
        Assert.Equal(500, e.Code);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_handler_that_returns_nothing_gives_the_caller_null()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("svc", s => s.Handle<Ping, string?>("Svc.Nothing", (_, _) => Task.FromResult<string?>(null)));
        Assert.Null(await service.Client.CallAsync<string?>("svc", "Svc.Nothing", new Ping("x")));
    }

    private sealed class ThrowingSelector : ISelector
    {
        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) => throw new InvalidOperationException("selector bug");
    }

    [Fact]
    public async Task A_failing_selector_fails_only_its_call()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var slow = service.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(500));

        var e = await Assert.ThrowsAsync<MicroException>(() => service.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"),
            new CallOptions { Selector = new ThrowingSelector() }));
        Assert.Equal(500, e.Code);
        Assert.Contains("selector bug", e.Error.Detail);
        Assert.Equal("slow", (await slow).Text); // the router (and the call it held) carried on
        Assert.Equal("x", (await service.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"))).Text);
    }

    [Fact]
    public async Task A_flood_at_a_slow_endpoint_gets_503_quickly_beyond_the_bounded_queue()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s, poolSize: 2),
            o => o.Config = TestCluster.FastConfig + "\nmicro.server.queue-size = 10");
        var client = await cluster.StartClientAsync();
        await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("warm"));

        var options = new CallOptions { Retries = 0, Timeout = TimeSpan.FromSeconds(10) };
        var flood = Enumerable.Range(0, 200).Select(async _ =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                await client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(300), options);
                return (Code: 200, watch.Elapsed);
            }
            catch (MicroException e) { return (e.Code, watch.Elapsed); }
        }).ToList();
        var results = await Task.WhenAll(flood);

        // 2 running + 10 waiting are served; every other call is refused at once, not queued in memory.
        var served = results.Count(r => r.Code == 200);
        var refused = results.Where(r => r.Code == 503).ToList();
        Assert.InRange(served, 12, 30);
        Assert.Equal(200, served + refused.Count);
        Assert.True(refused.Max(r => r.Elapsed) < TimeSpan.FromSeconds(2), $"a refusal took {refused.Max(r => r.Elapsed)}");
        Assert.Equal("after", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("after"))).Text);
    }

    [Fact]
    public async Task Calls_after_stop_fail_at_once()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        await service.StopAsync();
        var e = await Assert.ThrowsAsync<MicroException>(() => service.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x")));
        Assert.Equal(503, e.Code);
    }
}

/// <summary>Envelopes a well-behaved client never sends, sent straight to a node's server actor.</summary>
public sealed class HostileEnvelopeTests
{
    private static readonly IReadOnlyDictionary<string, string> NoHeaders = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;

    private static Micro.Actors.Server.Request Envelope(string id, byte[] body, string contentType = "application/x-hyperion",
        string endpoint = "Echo.Ping", double seconds = 5) =>
        new(id, "echo", endpoint, body, contentType, NoHeaders, TimeSpan.FromSeconds(seconds));

    /// <summary>An echo node, a client node, the echo node's server actor, and a codec that can write Pings.</summary>
    private static async Task<(MicroService Client, ActorSelection Server, Micro.Actors.Codec.HyperionCodec Codec)> EchoServerAsync(TestCluster cluster)
    {
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        var server = client.System.ActorSelection($"{Akka.Cluster.Cluster.Get(service.System).SelfAddress}/system/micro-server");
        var codec = new Micro.Actors.Codec.HyperionCodec(client.System);
        codec.AllowList.Allow(typeof(Ping));
        return (client, server, codec);
    }

    [Fact]
    public async Task Malformed_envelopes_get_400_and_the_node_keeps_serving()
    {
        await using var cluster = new TestCluster();
        var (client, server, codec) = await EchoServerAsync(cluster);
        var ping = codec.Encode(new Ping("x"));

        Micro.Actors.Server.Request[] hostile =
        [
            Envelope("id-1", ping, endpoint: null!),
            Envelope("id-2", null!),
            Envelope("id-3", ping, contentType: null!),
            Envelope("id-4", ping) with { Headers = null! },
            Envelope(null!, ping),
            Envelope("id-6", [1, 2, 3], "application/json"),
            Envelope("id-7", ping, "text/evil"),
            Envelope("id-8", codec.Encode("not a ping")),
            Envelope("id-9", [0xFF, 0x00, 0x13, 0x37, 0x42]),
            Envelope("id-10", ping[..(ping.Length / 2)]),
        ];
        foreach (var request in hostile)
        {
            var response = await server.Ask<Micro.Actors.Server.Response>(request, TimeSpan.FromSeconds(5));
            Assert.True(response.Error is { Code: 400 }, $"{request} -> {response}");
        }

        // Expired on arrival: 408, not work.
        var late = await server.Ask<Micro.Actors.Server.Response>(Envelope("id-11", ping, seconds: -1), TimeSpan.FromSeconds(5));
        Assert.Equal(408, late.Error!.Code);

        Assert.Equal("still", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still"))).Text);
    }

    [Fact]
    public async Task A_type_outside_the_allow_list_is_refused_with_400_that_names_it_and_the_setting()
    {
        await using var cluster = new TestCluster();
        var (client, server, codec) = await EchoServerAsync(cluster);
        // The sender here trusts these types; the echo node does not.
        codec.AllowList.Allow("System.Text.StringBuilder");
        codec.AllowList.Allow(typeof(Micro.Actors.Samples.Greeter.HelloRequest));

        (object Message, string TypeName)[] foreign =
        [
            (new System.Text.StringBuilder("x"), "System.Text.StringBuilder"),
            (new Micro.Actors.Samples.Greeter.HelloRequest("Ann"), "Micro.Actors.Samples.Greeter.HelloRequest"),
            (new List<System.Text.StringBuilder> { new("nested") }, "System.Text.StringBuilder"), // as a type argument
            (new Ping("x") with { }, ""), // control: allowed
        ];
        foreach (var (message, typeName) in foreign)
        {
            var response = await server.Ask<Micro.Actors.Server.Response>(Envelope("id", codec.Encode(message)), TimeSpan.FromSeconds(5));
            if (typeName == "")
            {
                Assert.Null(response.Error);
                continue;
            }
            Assert.True(response.Error is { Code: 400 }, $"{message} -> {response}");
            Assert.Contains(typeName, response.Error!.Detail);
            Assert.Contains("micro.serialization.allowed-types", response.Error.Detail);
        }

        // The same type sent as a plain Akka message (not in our envelope) is dropped by the transport's
        // serializer; the association stays and the node goes on serving.
        server.Tell(new System.Text.StringBuilder("raw"));
        Assert.Equal("ok", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("ok"))).Text);
    }
}

/// <summary>Payloads bigger than one transport frame: refused where they are made, with the limit named.</summary>
public sealed class OversizeTests
{
    [Fact]
    public async Task An_oversized_request_reply_or_event_is_refused_at_its_sender_and_nothing_waits_for_a_deadline()
    {
        await using var cluster = new TestCluster();
        var big = new string('x', 200_000);
        var service = await cluster.StartServiceAsync("echo", s =>
        {
            EchoHandler.Register(s);
            s.Handle<Ping, string>("Big.Reply", (p, _) => Task.FromResult(big));
        });
        var client = await cluster.StartClientAsync();
        var callOptions = new CallOptions { Timeout = TimeSpan.FromSeconds(10) };

        var watch = Stopwatch.StartNew();
        var request = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping(big), callOptions));
        Assert.Equal(413, request.Code);
        Assert.Contains("akka.remote.dot-netty.tcp.maximum-frame-size", request.Error.Detail);
        Assert.Contains("at most 12", request.Error.Detail); // 128000 b less room for the envelope

        var headers = new Dictionary<string, string> { ["big"] = big };
        var header = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"),
            new CallOptions { Timeout = TimeSpan.FromSeconds(10), Headers = headers }));
        Assert.Equal(413, header.Code);

        var reply = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<string>("echo", "Big.Reply", new Ping("x"), callOptions));
        Assert.Equal(500, reply.Code);
        Assert.Contains("bytes; one message carries at most", reply.Error.Detail);

        var publish = await Assert.ThrowsAsync<MicroException>(() => client.Client.PublishAsync("news", new Note(big)));
        Assert.Equal(413, publish.Code);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the refusals took {watch.Elapsed}");

        // Just under the limit goes through, and the node is unharmed.
        var fits = new string('y', 100_000);
        Assert.Equal(fits, (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping(fits), callOptions)).Text);
        Assert.NotNull(service);
    }
}
