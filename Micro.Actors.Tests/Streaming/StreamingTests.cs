using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Streams.Dsl;
using Micro.Actors.Errors;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Streaming;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Streaming;

public sealed record CountTo(int To);
public sealed record Counted(int N);
public sealed record Text(string Value);

/// <summary>Streams between two nodes of a real cluster: every kind, back-pressure, and every way a stream can end.</summary>
public sealed class StreamingTests(ITestOutputHelper output)
{
    /// <summary>What a producing handler did, seen from the test.</summary>
    private sealed class Probe
    {
        public long Produced;
        public readonly TaskCompletionSource Cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static async IAsyncEnumerable<Counted> Count(int to, Probe? probe, RequestContext context, int failAfter = int.MaxValue,
        TimeSpan? pauseAfterFirst = null)
    {
        try
        {
            for (var n = 1; n <= to; n++)
            {
                if (n > failAfter) throw new InvalidOperationException($"cannot count past {failAfter}");
                if (n == 2 && pauseAfterFirst is { } pause) await Task.Delay(pause, context.Cancellation);
                if (probe is not null) Interlocked.Increment(ref probe.Produced);
                yield return new Counted(n);
            }
        }
        finally
        {
            // The handler is stopped (its loop is not resumed again) and its cancellation has fired.
            if (context.Cancellation.IsCancellationRequested) probe?.Cancelled.TrySetResult();
        }
    }

    /// <summary>The items, with <paramref name="gap"/> between one and the next (the first goes at once).</summary>
    private static async IAsyncEnumerable<T> Items<T>(IEnumerable<T> items, TimeSpan? gap = null, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var first = true;
        foreach (var item in items)
        {
            if (gap is { } g && !first) await Task.Delay(g, cancellation);
            first = false;
            yield return item;
        }
    }

    private static async Task<(TestCluster Cluster, MicroService Server, MicroService Caller)> StartAsync(Action<MicroService> register,
        string extraConfig = "")
    {
        var cluster = new TestCluster();
        var server = await cluster.StartServiceAsync("counter", register, o => o.Config = TestCluster.FastConfig + "\n" + extraConfig);
        var caller = await cluster.StartClientAsync(o => o.Config = TestCluster.FastConfig + "\n" + extraConfig);
        await Eventually.TrueAsync(async () => (await caller.Registry.GetServiceAsync("counter")) is not null, TimeSpan.FromSeconds(10), "the counter in the registry");
        return (cluster, server, caller);
    }

    [Fact]
    public async Task Every_kind_of_stream_works_across_nodes_and_the_registry_lists_them_as_streams()
    {
        var (cluster, _, caller) = await StartAsync(s => s
            .HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) => Count(r.To, null, c))
            .HandleClientStream<Counted, Counted>("Counter.Sum", async (requests, _) =>
            {
                var sum = 0;
                await foreach (var r in requests) sum += r.N;
                return new Counted(sum);
            })
            .HandleBidiStream<Counted, Counted>("Counter.Double", (requests, _) => Double(requests))
            .Handle<CountTo, Counted>("Counter.One", (r, _) => Task.FromResult(new Counted(r.To))));
        await using var _ = cluster;

        var counted = new List<int>();
        await foreach (var c in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(100))) counted.Add(c.N);
        Assert.Equal(Enumerable.Range(1, 100), counted);

        var sum = await caller.Client.ClientStreamAsync<Counted, Counted>("counter", "Counter.Sum", Items(Enumerable.Range(1, 1000).Select(n => new Counted(n))));
        Assert.Equal(500_500, sum.N);

        var doubled = new List<int>();
        await foreach (var c in caller.Client.StreamAsync<Counted, Counted>("counter", "Counter.Double", Items(Enumerable.Range(1, 50).Select(n => new Counted(n)))))
            doubled.Add(c.N);
        Assert.Equal(Enumerable.Range(1, 50).Select(n => 2 * n), doubled);

        var node = (await caller.Registry.GetServiceAsync("counter"))!.Nodes.Single();
        Assert.Equal(StreamKind.Server, node.Endpoints.Single(e => e.Name == "Counter.Count").Stream);
        Assert.Equal(StreamKind.Client, node.Endpoints.Single(e => e.Name == "Counter.Sum").Stream);
        Assert.Equal(StreamKind.Bidirectional, node.Endpoints.Single(e => e.Name == "Counter.Double").Stream);
        Assert.Null(node.Endpoints.Single(e => e.Name == "Counter.One").Stream);

        // Wrong turns are typed errors that say what to do.
        var unknown = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Nope", new CountTo(1))) { } });
        Assert.Equal(404, unknown.Code);
        var unary = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.One", new CountTo(1))) { } });
        Assert.Equal(400, unary.Code);
        Assert.Contains("not a streaming endpoint", unary.Error.Detail);
        var kind = await Assert.ThrowsAsync<MicroException>(() => caller.Client.ClientStreamAsync<Counted, Counted>("counter", "Counter.Count", Items(new[] { new Counted(1) })));
        Assert.Equal(400, kind.Code);
        Assert.Contains("server stream", kind.Error.Detail);
        var called = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Counted>("counter", "Counter.Count", new CountTo(1)));
        Assert.Equal(400, called.Code);
        Assert.Contains("is a streaming endpoint", called.Error.Detail);
        var nobody = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var __ in caller.Client.StreamAsync<Counted>("nobody", "X.Y", new CountTo(1))) { } });
        Assert.Equal(404, nobody.Code);
    }

    /// <summary>A stream handler as an actor: it replies with the source of its replies (or an error to refuse).</summary>
    public sealed class CountingActor : Akka.Actor.ReceiveActor
    {
        public CountingActor()
        {
            Receive<StreamCall<CountTo>>(call => Sender.Tell(call.Request!.To < 0
                ? MicroError.BadRequest("counter", "cannot count below zero")
                : Akka.Streams.Dsl.Source.From(Enumerable.Range(1, call.Request.To)).Select(n => new Counted(n))));
            Receive<StreamCall<Counted>>(call => Sender.Tell(call.Requests!.Select(c => new Counted(3 * c.N))));
        }
    }

    [Fact]
    public async Task Actors_serve_streams_with_the_sources_they_reply_with()
    {
        var (cluster, _, caller) = await StartAsync(s => s
            .HandleStream<CountTo, Counted>("Counter.Count", StreamKind.Server, Akka.Actor.Props.Create<CountingActor>())
            .HandleStream<Counted, Counted>("Counter.Triple", StreamKind.Bidirectional, Akka.Actor.Props.Create<CountingActor>()));
        await using var _ = cluster;

        var counted = new List<int>();
        await foreach (var c in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(500))) counted.Add(c.N);
        Assert.Equal(Enumerable.Range(1, 500), counted);
        var tripled = new List<int>();
        await foreach (var c in caller.Client.StreamAsync<Counted, Counted>("counter", "Counter.Triple", Items(Enumerable.Range(1, 20).Select(n => new Counted(n)))))
            tripled.Add(c.N);
        Assert.Equal(Enumerable.Range(1, 20).Select(n => 3 * n), tripled);
        var refused = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(-1))) { } });
        Assert.Equal(400, refused.Code);
        Assert.Contains("cannot count below zero", refused.Error.Detail);
    }

    private static async IAsyncEnumerable<Counted> Double(IAsyncEnumerable<Counted> requests)
    {
        await foreach (var r in requests) yield return new Counted(2 * r.N);
    }

    [Fact]
    public async Task Opening_picks_nodes_at_random_and_tries_another_when_one_does_not_answer()
    {
        await using var cluster = new TestCluster();
        var (servedA, servedB) = (0, 0);
        var a = await cluster.StartServiceAsync("counter", s => s.HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) =>
        {
            Interlocked.Increment(ref servedA);
            return Count(r.To, null, c);
        }));
        await cluster.StartServiceAsync("counter", s => s.HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) =>
        {
            Interlocked.Increment(ref servedB);
            return Count(r.To, null, c);
        }));
        var picks = new PickCounter();
        // A long sideline: the node that failed an open stays passed over for the whole test.
        var caller = await cluster.StartClientAsync(o => { o.Selector = picks; o.Config = TestCluster.FastConfig + "\nmicro.client.sideline = 60s"; });
        await Eventually.TrueAsync(async () => (await caller.Registry.GetServiceAsync("counter"))?.Nodes.Count == 2, TimeSpan.FromSeconds(10), "both counters in the registry");

        for (var i = 0; i < 20; i++)
            await foreach (var _ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(1))) { }
        Assert.Equal(20, servedA + servedB);
        Assert.True(servedA > 0 && servedB > 0, $"random selection uses both nodes ({servedA}/{servedB})");

        // One node's stream server stops answering: every open still succeeds, on the other node, within its deadline.
        a.System.ActorSelection("/system/" + StreamServerActor.Name).Tell(PoisonPill.Instance);
        var watch = Stopwatch.StartNew();
        var (beforeA, beforeB) = (servedA, servedB);
        for (var i = 0; i < 8; i++)
        {
            var items = 0;
            await foreach (var _ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(3), new Micro.Actors.Client.CallOptions { Timeout = TimeSpan.FromSeconds(1) }))
                items++;
            Assert.Equal(3, items);
        }
        output.WriteLine($"8 opens with one node silent: {watch.ElapsedMilliseconds} ms");
        Assert.Equal((beforeA, beforeB + 8), (servedA, servedB));
        // The silent node was tried at most once: then it was sidelined, and the selector heard of it.
        var silent = a.Address;
        Assert.InRange(picks.Failures.Count(n => n == silent), 0, 1);
        Assert.InRange(picks.Picked.Skip(20).Count(n => n == silent), 0, 1);
        Assert.DoesNotContain(picks.Failures, n => n != silent);
    }

    /// <summary>Random selection that records what it picked and which tries it was told failed.</summary>
    private sealed class PickCounter : Micro.Actors.Selector.ISelector
    {
        public ConcurrentQueue<string> Picked { get; } = new();
        public ConcurrentQueue<string> Failures { get; } = new();

        public Micro.Actors.Registry.ServiceNode Select(IReadOnlyList<Micro.Actors.Registry.ServiceNode> candidates)
        {
            var node = Micro.Actors.Selector.RandomSelector.Instance.Select(candidates);
            Picked.Enqueue(node.HostPort);
            return node;
        }

        public void Mark(Micro.Actors.Registry.ServiceNode node, MicroError? error, TimeSpan latency)
        {
            if (error is not null) Failures.Enqueue(node.HostPort);
        }
    }

    [Fact]
    public async Task A_slow_reader_holds_back_a_producer_of_a_million_items_and_its_cancel_reaches_the_handler()
    {
        var probe = new Probe();
        var (cluster, _, caller) = await StartAsync(s => s.HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) => Count(r.To, probe, c)));
        await using var _ = cluster;

        using var cancel = new CancellationTokenSource();
        var (read, most) = (0, 0L);
        var watch = Stopwatch.StartNew();
        var reading = Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var c in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(1_000_000), cancellationToken: cancel.Token))
            {
                Assert.Equal(++read, c.N);
                most = Math.Max(most, Interlocked.Read(ref probe.Produced) - read);
                if (read == 600) cancel.Cancel();
                await Task.Delay(1); // one item per millisecond (at best)
            }
        });
        await reading;
        output.WriteLine($"read {read} in {watch.ElapsedMilliseconds} ms; the producer was at most {most} items ahead");
        // The producer's side holds its queue (micro.streaming.buffer = 16) and the stream ref's window (32): a bounded lead.
        Assert.InRange(most, 1, 200);
        var cancelledAt = Stopwatch.StartNew();
        await probe.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"the handler saw the cancel {cancelledAt.ElapsedMilliseconds} ms after the reader stopped");
        var stopped = Interlocked.Read(ref probe.Produced);
        Assert.True(stopped < 2_000, $"the producer stopped at {stopped}");
        // A stream its caller cancelled was served, not failed.
        await Eventually.TrueAsync(async () => (await caller.Client.CallAsync<StatsReply>("counter", BuiltIn.Stats, new object())).Endpoints
            .SequenceEqual([new EndpointStats("Counter.Count", 1, 0)]), TimeSpan.FromSeconds(5), "the cancelled stream counted as served");
    }

    [Fact]
    public async Task A_handler_that_throws_or_a_malformed_open_ends_with_a_typed_error_and_the_node_goes_on()
    {
        var (cluster, server, caller) = await StartAsync(s => s
            .HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) => Count(r.To, null, c, failAfter: 3))
            .HandleServerStream<CountTo, Counted>("Counter.Refuse", (_, _) => throw MicroError.New("counter", 422, "cannot count today").ToException()));
        await using var _ = cluster;

        var seen = new List<int>();
        var e = await Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var c in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(10))) seen.Add(c.N);
        });
        Assert.Equal([1, 2, 3], seen);
        Assert.Equal(500, e.Code);
        Assert.Contains("Counter.Count failed on the server (error id ", e.Error.Detail); // the exception's text stays in the server's log
        Assert.DoesNotContain("cannot count past 3", e.Error.Detail);

        var own = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Refuse", new CountTo(1))) { } });
        Assert.Equal(422, own.Code);

        // Hostile opens, straight at the node's stream server: each is refused with 400, and the node goes on serving.
        var streams = caller.System.ActorSelection(new RootActorPath(Akka.Cluster.Cluster.Get(server.System).SelfAddress) / "system" / StreamServerActor.Name);
        var headers = new Dictionary<string, string>();
        foreach (var (open, expected) in new[]
        {
            (new StreamOpen(Guid.NewGuid().ToString("N"), "counter", "Counter.Count", "application/x-hyperion", null!, [1]), "malformed"),
            (new StreamOpen(Guid.NewGuid().ToString("N"), "counter", "Counter.Count", "application/x-hyperion", headers, [0xFF, 0x00, 0x13]), "is not a CountTo"),
            (new StreamOpen(Guid.NewGuid().ToString("N"), "counter", "Counter.Count", "text/nonsense", headers, [1]), "no codec"),
            (new StreamOpen(Guid.NewGuid().ToString("N"), "counter", "Counter.Count", "application/x-hyperion", headers, null), "none came"),
            (new StreamOpen("../../x", "counter", "Counter.Count", "application/x-hyperion", headers, [1]), "an id of its own"),
        })
        {
            var answer = await streams.Ask<object>(open, TimeSpan.FromSeconds(5));
            var refused = Assert.IsType<StreamRefused>(answer);
            Assert.Equal(400, refused.Error.Code);
            Assert.Contains(expected, refused.Error.Detail);
        }
        var still = 0;
        await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(3))) still++;
        Assert.Equal(3, still);

        // Debug.Stats lists the streaming endpoints beside the others: streams that ended well and that
        // failed (the refused opens above never reached a handler and are not counted).
        var stats = await caller.Client.CallAsync<StatsReply>("counter", BuiltIn.Stats, new object());
        Assert.Equal([new EndpointStats("Counter.Count", 1, 1), new EndpointStats("Counter.Refuse", 0, 1)], stats.Endpoints);
    }

    [Fact]
    public async Task Opening_a_stream_when_this_nodes_registry_does_not_answer_ends_with_408_by_the_deadline()
    {
        var (cluster, _, caller) = await StartAsync(s => s.HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) => Count(r.To, null, c)));
        await using var _ = cluster;
        // As on a node that is stopping: its registry actor is gone, so the lookup before the open is never answered.
        var registry = await caller.System.ActorSelection("/system/" + Micro.Actors.Registry.RegistryActor.Name).ResolveOne(TimeSpan.FromSeconds(5));
        var gone = registry.WatchAsync();
        caller.System.Stop(registry);
        await gone.WaitAsync(TimeSpan.FromSeconds(5));

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(1), new Micro.Actors.Client.CallOptions { Timeout = TimeSpan.FromSeconds(1) })) { }
        });
        Assert.Equal(408, e.Code);
        Assert.Contains("registry did not answer", e.Error.Detail);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task An_idle_stream_times_out_with_408_and_the_handler_is_cancelled()
    {
        var probe = new Probe();
        var (cluster, _, caller) = await StartAsync(
            s => s.HandleServerStream<CountTo, Counted>("Counter.Count", (r, c) => Count(r.To, probe, c, pauseAfterFirst: TimeSpan.FromMinutes(5)))
                .HandleClientStream<Counted, Counted>("Counter.Sum", async (requests, _) =>
                {
                    var sum = 0;
                    await foreach (var r in requests) sum += r.N;
                    return new Counted(sum);
                })
                .HandleBidiStream<Text, Text>("Counter.Echo", (requests, _) => requests),
            "micro.streaming.idle-timeout = 1s");
        await using var _ = cluster;

        var watch = Stopwatch.StartNew();
        var seen = 0;
        var e = await Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(10))) seen++;
        });
        output.WriteLine($"408 after {watch.ElapsedMilliseconds} ms");
        Assert.Equal(1, seen);
        Assert.Equal(408, e.Code);
        Assert.Contains("micro.streaming.idle-timeout", e.Error.Detail);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        await probe.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // An upload longer than the idle timeout, with requests flowing, is not idle: its one reply comes at the end.
        // (Gaps well under the timeout, and the first request at once: on a busy machine the open's
        // handshake and a request can each arrive ~0.5 s late.)
        // Seven gaps of 250 ms: the upload takes 1.75 s or more, longer than the timeout.
        var sum = await caller.Client.ClientStreamAsync<Counted, Counted>("counter", "Counter.Sum",
            Items(Enumerable.Range(1, 8).Select(n => new Counted(n)), gap: TimeSpan.FromMilliseconds(250)));
        Assert.Equal(36, sum.N);

        // Requests that stop coming end an upload with the same 408, not as a failure of the caller's sending.
        var silent = await Assert.ThrowsAsync<MicroException>(() => caller.Client.ClientStreamAsync<Counted, Counted>("counter", "Counter.Sum",
            Items(new[] { new Counted(1), new Counted(2) }, gap: TimeSpan.FromSeconds(5))));
        Assert.Equal(408, silent.Code);
        Assert.Contains("micro.streaming.idle-timeout", silent.Error.Detail);

        // A request that cannot go (bigger than a frame) fails the caller with its own error, not "the node is gone".
        var big = await Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var __ in caller.Client.StreamAsync<Text, Text>("counter", "Counter.Echo",
                Items(new[] { new Text("small"), new Text(new string('x', 200_000)) }))) { }
        });
        Assert.Equal(413, big.Code);
    }

    [Fact]
    public async Task When_the_handlers_node_dies_the_reader_fails_with_503_instead_of_hanging()
    {
        // A crash: the system ends without its coordinated shutdown (no leave, no drain).
        var (cluster, server, caller) = await StartAsync(s => s.HandleServerStream<CountTo, Counted>("Counter.Count",
            (r, c) => Count(r.To, null, c, pauseAfterFirst: TimeSpan.FromMinutes(5))), "akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        await using var _ = cluster;

        var reading = await ReadUntilItFailsAsync(caller);
        var watch = Stopwatch.StartNew();
        await server.System.Terminate();
        var e = await reading.WaitAsync(TimeSpan.FromSeconds(25));
        output.WriteLine($"{e.Code} after {watch.ElapsedMilliseconds} ms: {e.Error.Detail}");
        Assert.Equal(503, e.Code);
    }

    [Fact]
    public async Task A_graceful_stop_lets_a_stream_run_for_the_drain_then_ends_it_with_a_503_the_reader_sees()
    {
        var (cluster, server, caller) = await StartAsync(s => s.HandleServerStream<CountTo, Counted>("Counter.Count",
            (r, c) => Count(r.To, null, c, pauseAfterFirst: TimeSpan.FromMinutes(5))), "micro.server.drain-timeout = 2s");
        await using var _ = cluster;

        var reading = await ReadUntilItFailsAsync(caller);
        var watch = Stopwatch.StartNew();
        var stop = server.StopAsync();
        var e = await reading.WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine($"{e.Code} after {watch.ElapsedMilliseconds} ms: {e.Error.Detail}");
        Assert.Equal(503, e.Code);
        Assert.Contains("stopped while streaming", e.Error.Detail);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15)); // it ran on through the drain
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>Reads Counter.Count (which pauses after its first item) and returns, once the first came, what the read ends with.</summary>
    private static async Task<Task<MicroException>> ReadUntilItFailsAsync(MicroService caller)
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var __ in caller.Client.StreamAsync<Counted>("counter", "Counter.Count", new CountTo(10))) first.TrySetResult();
        });
        await first.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return reading;
    }
}
