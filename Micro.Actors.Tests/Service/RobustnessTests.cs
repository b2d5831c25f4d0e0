using Akka.Actor;
using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
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
    [Fact]
    public async Task Malformed_envelopes_get_400_and_the_node_keeps_serving()
    {
        await using var cluster = new TestCluster();
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        var server = client.System.ActorSelection($"{Akka.Cluster.Cluster.Get(service.System).SelfAddress}/user/micro-server");
        var noHeaders = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;

        Micro.Actors.Server.Request[] hostile =
        [
            new("id-1", "echo", null!, new Ping("x"), "application/x-hyperion", noHeaders, TimeSpan.FromSeconds(5)),
            new("id-2", "echo", "Echo.Ping", null!, "application/x-hyperion", noHeaders, TimeSpan.FromSeconds(5)),
            new("id-3", "echo", "Echo.Ping", new Ping("x"), null!, noHeaders, TimeSpan.FromSeconds(5)),
            new("id-4", "echo", "Echo.Ping", new Ping("x"), "application/x-hyperion", null!, TimeSpan.FromSeconds(5)),
            new(null!, "echo", "Echo.Ping", new Ping("x"), "application/x-hyperion", noHeaders, TimeSpan.FromSeconds(5)),
            new("id-6", "echo", "Echo.Ping", new byte[] { 1, 2, 3 }, "application/json", noHeaders, TimeSpan.FromSeconds(5)),
            new("id-7", "echo", "Echo.Ping", new Ping("x"), "text/evil", noHeaders, TimeSpan.FromSeconds(5)),
            new("id-8", "echo", "Echo.Ping", "not a ping", "application/x-hyperion", noHeaders, TimeSpan.FromSeconds(5)),
        ];
        foreach (var request in hostile)
        {
            var response = await server.Ask<Micro.Actors.Server.Response>(request, TimeSpan.FromSeconds(5));
            Assert.True(response.Error is { Code: 400 }, $"{request} -> {response}");
        }

        // Expired on arrival: 408, not work.
        var late = await server.Ask<Micro.Actors.Server.Response>(
            new Micro.Actors.Server.Request("id-9", "echo", "Echo.Ping", new Ping("x"), "application/x-hyperion", noHeaders, TimeSpan.FromSeconds(-1)),
            TimeSpan.FromSeconds(5));
        Assert.Equal(408, late.Error!.Code);

        Assert.Equal("still", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still"))).Text);
    }
}
