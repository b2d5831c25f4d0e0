using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Metadata;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Micro.Actors.Wrappers;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.Tests.Wrappers;

public sealed record Heard(string Text, IReadOnlyDictionary<string, string> Headers);

/// <summary>go-micro's wrappers across real nodes: order, short-circuits, errors, header changes, groups, attempts.</summary>
public sealed class WrapperTests
{
    private static readonly CallOptions Quick = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Client_call_and_handler_wrappers_run_outermost_first_and_the_handler_sees_their_headers()
    {
        var client = new ConcurrentQueue<string>();
        var server = new ConcurrentQueue<string>();
        await using var cluster = new TestCluster();
        var echo = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Wrappers
            .AddHandler(async (h, next) =>
            {
                server.Enqueue($"A before {h.Endpoint} {h.Message?.GetType().Name} attempt {h.Attempt} on {h.Node} x-client={h.Headers["x-client"]}");
                h.Headers["x-handler"] = "A";
                var reply = await next(h);
                server.Enqueue($"A after {reply?.GetType().Name}");
                return reply;
            })
            .AddHandler(async (h, next) =>
            {
                server.Enqueue("B before");
                var reply = await next(h);
                server.Enqueue("B after");
                return reply;
            }));
        var caller = await cluster.StartClientAsync(o => o.Wrappers
            .AddClient(async (c, next) =>
            {
                client.Enqueue($"C1 before {c.Service} {c.Endpoint} {c.Kind} attempt {c.Attempt} node {c.Node?.HostPort ?? "none"}");
                c.Headers["x-client"] = "C1";
                var reply = await next(c);
                client.Enqueue($"C1 after {reply?.Length > 0}");
                return reply;
            })
            .AddClient(async (c, next) =>
            {
                client.Enqueue($"C2 before x-client={c.Headers["x-client"]}");
                var reply = await next(c);
                client.Enqueue("C2 after");
                return reply;
            })
            .AddCall(async (c, next) =>
            {
                client.Enqueue($"K before attempt {c.Attempt} on {c.Node!.HostPort}");
                c.Headers["x-node"] = c.Node.HostPort;
                var reply = await next(c);
                client.Enqueue("K after");
                return reply;
            }));
        await TestCluster.WaitForNodesAsync(caller, "echo", 1);

        var pong = await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick);

        Assert.Equal("hi", pong.Text);
        Assert.Equal("C1", pong.Headers["x-client"]);
        Assert.Equal(echo.Address, pong.Headers["x-node"]);
        Assert.Equal("A", pong.Headers["x-handler"]);
        Assert.Equal([
            "C1 before echo Echo.Ping Unary attempt 0 node none", "C2 before x-client=C1", $"K before attempt 1 on {echo.Address}",
            "K after", "C2 after", "C1 after True"], client);
        Assert.Equal([$"A before Echo.Ping Ping attempt 1 on {echo.Address} x-client=C1", "B before", "B after", "A after Pong"], server);
    }

    [Fact]
    public async Task Wrappers_short_circuit_and_fail_with_their_own_errors_and_group_wrappers_stay_in_their_group()
    {
        var handled = 0;
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s
            .Handle<Ping, Heard>("Other.Hello", (p, c) => { Interlocked.Increment(ref handled); return Task.FromResult(new Heard(p.Text, c.Headers)); })), o => o.Wrappers
            .AddHandler((h, next) => h.Message switch
            {
                Ping { Text: "cached" } => Task.FromResult<object?>(new Pong("from the wrapper", h.Node, h.RequestId, new Dictionary<string, string>(), TimeSpan.Zero)),
                Ping { Text: "forbidden" } => throw MicroError.New(h.Service, 403, "not for you").ToException(),
                Ping { Text: "broken" } => throw new InvalidOperationException("the wrapper broke"),
                _ => next(h),
            }, "Echo"));
        var caller = await cluster.StartClientAsync(o => o.Wrappers.AddClient((c, next) => c.Request switch
        {
            Ping { Text: "refused" } => throw MicroError.New("micro.client", 418, "refused before it left").ToException(),
            Ping { Text: "stuck" } => new TaskCompletionSource<byte[]?>().Task, // a wrapper that never returns
            _ => next(c),
        }));
        await TestCluster.WaitForNodesAsync(caller, "echo", 1);

        Assert.Equal("from the wrapper", (await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("cached"), Quick)).Text);
        Assert.Equal(403, (await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("forbidden"), Quick))).Error.Code);
        var broken = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("broken"), Quick));
        Assert.Equal(500, broken.Error.Code);
        Assert.Contains("Echo.Ping failed on the server (error id ", broken.Error.Detail); // a wrapper's exception stays on the server too
        Assert.DoesNotContain("the wrapper broke", broken.Error.Detail);
        Assert.Equal(418, (await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("refused"), Quick))).Error.Code);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var stuck = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("stuck"), Quick with { Timeout = TimeSpan.FromSeconds(1) }));
        Assert.Equal(408, stuck.Error.Code);
        Assert.Contains("a client wrapper held the call", stuck.Error.Detail);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        // The group wrapper is only the Echo group's: Other.Hello is served as it is.
        Assert.Equal("cached", (await caller.Client.CallAsync<Heard>("echo", "Other.Hello", new Ping("cached"), Quick)).Text);
        Assert.Equal(1, handled);
        // The handlers that a wrapper answered for are free again: the node still serves.
        for (var i = 0; i < 40; i++) Assert.Equal($"{i}", (await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{i}"), Quick)).Text);
    }

    [Fact]
    public async Task A_handler_cancelled_at_the_callers_deadline_answers_408_not_500()
    {
        // The server's answer races the caller's own timer; whichever wins, it must be a timeout.
        var answers = new ConcurrentQueue<int>();
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s
            .Handle<Ping, Pong>("Other.Wait", async (p, c) =>
            {
                await Task.Delay(Timeout.Infinite, c.Cancellation);
                return new Pong(p.Text, "", c.Id, new Dictionary<string, string>(), TimeSpan.Zero);
            })), o => o.Wrappers
            .AddHandler(async (h, next) =>
            {
                try { return await next(h); }
                catch (MicroException e) { answers.Enqueue(e.Error.Code); throw; }
            }));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "echo", 1);

        var timedOut = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Other.Wait", new Ping("x"), Quick with { Timeout = TimeSpan.FromMilliseconds(400) }));
        Assert.Equal(408, timedOut.Error.Code);
        Assert.Contains("did not answer within 0.4 s", timedOut.Error.Detail);
        await Eventually.TrueAsync(() => !answers.IsEmpty, TimeSpan.FromSeconds(5), "the server to answer the cancelled call");
        Assert.Equal(408, Assert.Single(answers));
    }

    [Fact]
    public async Task A_call_wrapper_sees_each_attempt_and_a_503_it_throws_moves_the_call_to_another_node()
    {
        var attempts = new ConcurrentQueue<(int Attempt, string Node, CallKind Kind)>();
        await using var cluster = new TestCluster();
        MicroService? a = null, b = null;
        a = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s.HandleServerStream<Ping, Heard>("Stream.Where", (_, c) => Where(a!, c))));
        b = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s.HandleServerStream<Ping, Heard>("Stream.Where", (_, c) => Where(b!, c))));
        var caller = await cluster.StartClientAsync(o => o.Wrappers.AddCall((c, next) =>
        {
            attempts.Enqueue((c.Attempt, c.Node!.HostPort, c.Kind));
            c.Headers["x-attempt-wrapped"] = $"{c.Attempt}";
            return c.Attempt == 1 ? throw MicroError.ServiceUnavailable("test", "the first node is refused").ToException() : next(c);
        }));
        await TestCluster.WaitForNodesAsync(caller, "echo", 2);

        var pong = await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick);

        Assert.Equal([1, 2], attempts.Select(t => t.Attempt));
        Assert.NotEqual(attempts.First().Node, attempts.Last().Node);
        Assert.Equal(attempts.Last().Node, pong.Node);
        Assert.Contains(pong.Node, new[] { a.Address, b.Address });
        Assert.Equal("2", pong.Headers[MetadataKeys.Attempt]);

        // Opening a stream is planned like a call: the same wrappers run around each attempt to open it.
        attempts.Clear();
        var opened = new List<Heard>();
        await foreach (var where in caller.Client.StreamAsync<Heard>("echo", "Stream.Where", new Ping("?"), Quick)) opened.Add(where);
        Assert.Equal([(1, CallKind.ServerStream), (2, CallKind.ServerStream)], attempts.Select(t => (t.Attempt, t.Kind)));
        Assert.NotEqual(attempts.First().Node, attempts.Last().Node);
        var heard = Assert.Single(opened);
        Assert.Equal(attempts.Last().Node, heard.Text);
        Assert.Equal("2", heard.Headers["x-attempt-wrapped"]);
        Assert.Equal("2", heard.Headers[MetadataKeys.Attempt]);
    }

    private static async IAsyncEnumerable<Heard> Where(MicroService node, RequestContext context)
    {
        await Task.Yield();
        yield return new Heard(node.Address, context.Headers);
    }

    [Fact]
    public async Task A_bearer_token_is_required_by_the_handler_wrapper_and_added_by_the_client_wrapper()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s.HandleServerStream<Ping, Ping>("Stream.Echo", (p, _) => Repeat(p, 3))),
            o => o.Wrappers.AddHandler(BearerToken.Require("s3cret")));
        var anonymous = await cluster.StartClientAsync();
        var wrong = await cluster.StartClientAsync(o => o.Wrappers.AddClient(BearerToken.Send("guess")));
        var trusted = await cluster.StartClientAsync(o => o.Wrappers.AddClient(BearerToken.Send(() => "s3cret")));
        await TestCluster.WaitForNodesAsync(trusted, "echo", 1);

        var none = await Assert.ThrowsAsync<MicroException>(() => anonymous.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick));
        Assert.Equal(401, none.Error.Code);
        Assert.Contains("Authorization: Bearer", none.Error.Detail);
        Assert.Equal(401, (await Assert.ThrowsAsync<MicroException>(() => wrong.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick))).Error.Code);
        var pong = await trusted.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick);
        Assert.Equal("Bearer s3cret", pong.Headers[MetadataKeys.Authorization]);

        // Streams are handlers too: the check runs before the handler, and the caller reads its 401.
        var stream = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var _ in anonymous.Client.StreamAsync<Ping>("echo", "Stream.Echo", new Ping("x"), Quick)) { } });
        Assert.Equal(401, stream.Error.Code);
        var items = new List<string>();
        await foreach (var p in trusted.Client.StreamAsync<Ping>("echo", "Stream.Echo", new Ping("x"), Quick)) items.Add(p.Text);
        Assert.Equal(["x0", "x1", "x2"], items);
    }

    [Fact]
    public async Task An_endpoint_limit_answers_429_beyond_it_and_serves_again_once_a_permit_is_free()
    {
        using var limit = EndpointLimit.Concurrency(1);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Wrappers
            .AddHandler(limit)
            .AddHandler((h, next) => // inside the limit: runs once the permit is held
            {
                if (h.Message is Slow { Milliseconds: > 1 }) holding.TrySetResult();
                return next(h);
            }));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "echo", 1);

        var slow = caller.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(1000), Quick);
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(1), Quick));
        Assert.Equal(429, refused.Error.Code);
        Assert.Contains("Echo.Slow is over its limit", refused.Error.Detail);
        // Another endpoint has a limit of its own.
        Assert.Equal("free", (await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("free"), Quick)).Text);
        Assert.Equal("slow", (await slow).Text);
        Assert.Equal("slow", (await caller.Client.CallAsync<Pong>("echo", "Echo.Slow", new Slow(1), Quick)).Text);
    }

    [Fact]
    public async Task Publish_and_subscriber_wrappers_run_around_each_event_for_function_and_actor_subscribers()
    {
        var seen = new ConcurrentQueue<string>();
        var functionGot = new ConcurrentQueue<Heard>();
        var actorGot = new ConcurrentQueue<Heard>();
        await using var cluster = new TestCluster();
        var subscriber = await cluster.StartServiceAsync("audit", s => s
            .Subscribe<Note>("notes", (n, e) => { functionGot.Enqueue(new Heard(n.Text, e.Headers)); return Task.CompletedTask; })
            .Subscribe<RecordingSubscriber, Note>("notes"), o =>
            {
                o.Services = new ServiceCollection().AddSingleton(actorGot).BuildServiceProvider();
                o.Wrappers.AddSubscriber(async (e, next) =>
                {
                    seen.Enqueue($"{e.Topic} {((Note)e.Message).Text}");
                    if (((Note)e.Message).Text == "skip") return; // short-circuit: the subscriber never sees it
                    e.Headers["x-subscriber"] = "wrapped";
                    await next(e);
                }, "notes");
            });
        var publisher = await cluster.StartClientAsync(o => o.Wrappers.AddPublish((p, next) =>
        {
            p.Headers["x-publisher"] = p.Topic;
            return next(p);
        }));
        await publisher.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () =>
        {
            await publisher.Client.PublishAsync("notes", new Note("probe"));
            await Task.Delay(100);
            return !functionGot.IsEmpty && !actorGot.IsEmpty;
        }, TimeSpan.FromSeconds(20), "both subscribers to be reached");

        await publisher.Client.PublishAsync("notes", new Note("skip"));
        await publisher.Client.PublishAsync("notes", new Note("real"));

        await Eventually.TrueAsync(() => functionGot.Any(h => h.Text == "real") && actorGot.Any(h => h.Text == "real"), TimeSpan.FromSeconds(10), "the real note");
        foreach (var got in new[] { functionGot, actorGot })
        {
            var real = got.Single(h => h.Text == "real");
            Assert.Equal("notes", real.Headers["x-publisher"]);
            Assert.Equal("wrapped", real.Headers["x-subscriber"]);
            Assert.DoesNotContain(got, h => h.Text == "skip");
        }
        Assert.Equal(2, seen.Count(s => s == "notes skip"));
        Assert.Equal(0, subscriber.Subscriptions.Sum(s => s.Failed));
    }

    [Fact]
    public async Task A_selector_of_its_own_picks_the_node_and_hears_how_every_try_went()
    {
        var selector = new OneNodeSelector();
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var last = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        selector.Node = last.Address;
        var caller = await cluster.StartClientAsync(o => o.Selector = selector);
        await TestCluster.WaitForNodesAsync(caller, "echo", 2);

        for (var i = 0; i < 5; i++) Assert.Equal(last.Address, (await caller.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("hi"), Quick)).Node);
        await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("echo", "Echo.Boom", new Boom("no"), Quick));

        Assert.Equal(6, selector.Marks.Count);
        Assert.All(selector.Marks, m => Assert.Equal(last.Address, m.Node));
        Assert.All(selector.Marks.Take(5), m => { Assert.Null(m.Code); Assert.True(m.Latency > TimeSpan.Zero); });
        Assert.Equal(500, selector.Marks.Last().Code);
    }

    private static async IAsyncEnumerable<Ping> Repeat(Ping p, int times, [EnumeratorCancellation] CancellationToken ct = default)
    {
        for (var i = 0; i < times; i++)
        {
            await Task.Yield();
            yield return new Ping($"{p.Text}{i}");
        }
    }

    private sealed class OneNodeSelector : ISelector
    {
        public string Node { get; set; } = "";

        public ConcurrentQueue<(string Node, int? Code, TimeSpan Latency)> Marks { get; } = new();

        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) => candidates.FirstOrDefault(n => n.HostPort == Node) ?? candidates[0];

        public void Mark(ServiceNode node, MicroError? error, TimeSpan latency) => Marks.Enqueue((node.HostPort, error?.Code, latency));
    }
}

public sealed class RecordingSubscriber : MicroSubscriber
{
    public RecordingSubscriber(ConcurrentQueue<Heard> got) => Receive<Note>(n => got.Enqueue(new Heard(n.Text, Event.Headers)));
}
