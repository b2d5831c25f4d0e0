using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Service;

/// <summary>Calls across a real 3-node cluster on 127.0.0.1.</summary>
public sealed class CallTests
{
    [Fact]
    public async Task A_call_reaches_a_service_on_another_node_with_headers_id_and_deadline()
    {
        await using var cluster = new TestCluster();
        var echo = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        await cluster.StartServiceAsync("other");
        // The client calls at once: it must wait for its own join instead of answering "not found".
        var client = await cluster.StartClientAsync(waitUntilUp: false);

        var pong = await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), new CallOptions
        {
            Timeout = TimeSpan.FromSeconds(10),
            Headers = new Dictionary<string, string> { ["trace-id"] = "t-1" },
        });

        Assert.Equal("hi", pong.Text);
        Assert.Equal(echo.Address, pong.Node);
        Assert.Equal("t-1", pong.Headers["trace-id"]);
        Assert.Equal(32, pong.RequestId.Length);
        Assert.InRange(pong.Remaining, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Two_instances_of_a_service_both_get_traffic_within_100_calls()
    {
        await using var cluster = new TestCluster();
        var a = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var b = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 2);

        var served = new HashSet<string>();
        for (var i = 0; i < 100 && served.Count < 2; i++)
            served.Add((await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{i}"))).Node);

        Assert.Equal(new HashSet<string> { a.Address, b.Address }, served);
    }

    [Fact]
    public async Task Unknown_service_fails_at_once_with_NotFound_listing_known_services()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 1);

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("nope", "Echo.Ping", new Ping("x")));
        watch.Stop();

        Assert.Equal(404, e.Code);
        Assert.Contains("'nope'", e.Error.Detail);
        Assert.Contains("echo", e.Error.Detail);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Unknown_endpoint_fails_with_NotFound_listing_the_endpoints()
    {
        await using var cluster = new TestCluster();
        var echo = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();

        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Nope", new Ping("x")));
        Assert.Equal(404, e.Code);
        Assert.Contains("Echo.Boom, Echo.Ping, Echo.Slow", e.Error.Detail);

        // A wrong type is the caller's own 400, found in the registry before anything is sent...
        var wrong = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Note("wrong type")));
        Assert.Equal((400, "micro.client"), (wrong.Code, wrong.Error.Id));
        Assert.Contains($"takes a {typeof(Ping).FullName}, not a {typeof(Note).FullName}", wrong.Error.Detail);
        // ...and the server checks too, for what the caller cannot (raw bytes: here a byte[] of its own).
        var direct = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new byte[] { 1, 2, 3 },
            new CallOptions { Address = echo.Address }));
        Assert.Equal(400, direct.Code);
        Assert.Contains("takes a Ping: the bytes hold a Byte[], not a Ping", direct.Error.Detail);
    }

    [Fact]
    public async Task A_handler_that_throws_answers_500_and_the_next_call_succeeds()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s, poolSize: 1));
        var client = await cluster.StartClientAsync();

        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Boom", new Boom("kaput")));
        Assert.Equal(500, e.Code);
        Assert.Matches(@"^Echo\.Boom failed on the server \(error id [0-9a-f]{12}\)", e.Error.Detail);
        Assert.DoesNotContain("kaput", e.Error.Detail); // the exception's text stays in the server's log

        // One handler actor in the pool: it was restarted and serves again.
        for (var i = 0; i < 3; i++)
            Assert.Equal("ok", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("ok"))).Text);
    }

    [Fact]
    public async Task A_deadline_ends_the_call_with_Timeout_on_time_and_the_handler_sees_it()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("warm-up"));

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(5_000),
            new CallOptions { Timeout = TimeSpan.FromMilliseconds(500) }));
        watch.Stop();

        Assert.Equal(408, e.Code);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(480), TimeSpan.FromMilliseconds(800));
    }

    [Fact]
    public async Task A_slow_handler_does_not_hold_up_the_rest_of_the_service()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s, poolSize: 4));
        var client = await cluster.StartClientAsync();

        var slow = client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(2_000));
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++) await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("fast"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.5), $"10 fast calls took {watch.Elapsed} beside a slow one");
        Assert.False(slow.IsCompleted);
        Assert.Equal("slow", (await slow).Text);
    }

    [Fact]
    public async Task Tell_and_function_handlers_reach_the_service()
    {
        await using var cluster = new TestCluster();
        var noted = new TaskCompletionSource<(string Text, string Id)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await cluster.StartServiceAsync("notes", s => s
            .Handle<Note>("Notes.Add", (n, ctx) => { noted.TrySetResult((n.Text, ctx.Id)); return Task.CompletedTask; })
            .Handle<Ping, string>("Notes.Upper", (p, _) => Task.FromResult(p.Text.ToUpperInvariant())));
        var client = await cluster.StartClientAsync();

        await client.Client.TellAsync("notes", "Notes.Add", new Note("remember"));
        var (text, id) = await noted.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("remember", text);
        Assert.Equal(32, id.Length);
        Assert.Equal("SHOUT", await client.Client.CallAsync<string>("notes", "Notes.Upper", new Ping("shout")));

        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.TellAsync("nobody", "Notes.Add", new Note("lost?")));
        Assert.Equal(404, e.Code);
    }

    [Fact]
    public async Task Cancelling_a_call_ends_it_at_once()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(3_000), cancellationToken: cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_client_whose_seed_is_down_fails_by_its_deadline_naming_the_seed()
    {
        using var dead = new DeadPort();
        var port = dead.Port;
        await using var cluster = new TestCluster();
        var client = await cluster.StartClientAsync(o => { o.SeedNodes.Add($"127.0.0.1:{port}"); o.RequestTimeout = TimeSpan.FromSeconds(1); }, waitUntilUp: false);

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x"),
            new CallOptions { Timeout = TimeSpan.FromSeconds(1) }));
        Assert.Equal(408, e.Code);
        Assert.Contains("not joined", e.Error.Detail);
        // A node that has just started and is busy trying its seed: allow a wider margin than warm calls get.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");

        var registry = await Assert.ThrowsAsync<MicroException>(() => client.Registry.ListServicesAsync());
        Assert.Contains($"127.0.0.1:{port}", registry.Error.Detail);
    }
}
