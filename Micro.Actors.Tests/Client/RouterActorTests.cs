using Micro.Actors.Batching;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;

namespace Micro.Actors.Tests.Client;

/// <summary>
/// The router on its own: a probe plays the registry and probes play the service's nodes, so
/// unreachability, suspicion and deadlines are driven exactly.
/// </summary>
public sealed class RouterActorTests : TestKit
{
    private static readonly ClientDefaults Defaults = new(TimeSpan.FromSeconds(5), 1, new RoundRobinSelector(),
        TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(20), RetryPolicy.OnNodeFailure, () => "not joined");

    private ServiceNode Node(int port, IActorRef server, NodeStatus status = NodeStatus.Up) =>
        new($"127.0.0.1:{port}#1", new Address("akka.tcp", Sys.Name, "127.0.0.1", port), "greeter", "1.0.0",
            ImmutableDictionary<string, string>.Empty, [new EndpointInfo("Greeter.Hello", "x", "y")], status) { Server = server };

    private static RegistryView View(params ServiceNode[] nodes) =>
        new(nodes.ToImmutableDictionary(n => n.Id), ImmutableHashSet<string>.Empty, true, []);

    private (IActorRef Router, Akka.TestKit.TestProbe Registry) StartRouter(BurstQueue<RouterActor.Call>? queue = null,
        ClientDefaults? defaults = null)
    {
        var registry = CreateTestProbe();
        var router = Sys.ActorOf(Props.Create(() => new RouterActor("greeter", registry.Ref, defaults ?? Defaults, queue)));
        if (queue is not null) queue.Actor = router;
        registry.ExpectMsg<RegistryActor.Subscribe>();
        return (router, registry);
    }

    /// <summary>Always the first candidate (lowest port): the tests know where a call goes.</summary>
    private sealed class FirstSelector : ISelector
    {
        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) => candidates.MinBy(n => n.Address.Port)!;
    }

    /// <summary>The router passes bodies through untouched; these stand for encoded messages.</summary>
    private static byte[] Bytes(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static (RouterActor.Call Call, Task<byte[]?> Result) NewCall(TimeSpan timeout, int? retries = null)
    {
        var completion = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new Request(Guid.NewGuid().ToString("N"), "greeter", "Greeter.Hello", Bytes("Ann"), "application/x-hyperion",
            ImmutableDictionary<string, string>.Empty, timeout);
        return (new RouterActor.Call(request, new CallOptions { Retries = retries, Selector = new FirstSelector() }, DateTime.UtcNow + timeout, completion), completion.Task);
    }

    [Fact]
    public async Task A_call_waits_for_the_registry_then_goes_to_a_node_and_its_reply_completes_it()
    {
        var (router, _) = StartRouter();
        var server = CreateTestProbe();
        var (call, result) = NewCall(TimeSpan.FromSeconds(5));
        router.Tell(call);
        server.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no view yet: the call waits

        router.Tell(View(Node(1, server.Ref)));
        var request = server.ExpectMsg<Request>();
        Assert.InRange(request.Timeout, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
        server.Reply(new Response(request.Id, Bytes("Hello Ann"), null));
        Assert.Equal(Bytes("Hello Ann"), await result);
    }

    [Fact]
    public async Task A_node_turning_unreachable_moves_its_calls_to_another_node_at_once()
    {
        var (router, _) = StartRouter();
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        var nodeA = Node(1, a.Ref);
        var nodeB = Node(2, b.Ref);
        router.Tell(View(nodeA, nodeB));
        var (call, result) = NewCall(TimeSpan.FromSeconds(5));
        router.Tell(call);

        a.ExpectMsg<Request>();
        router.Tell(View(nodeA with { Status = NodeStatus.Unreachable }, nodeB));

        var retried = b.ExpectMsg<Request>(TimeSpan.FromSeconds(1));
        Assert.Equal(call.Request.Id, retried.Id);
        b.Reply(new Response(retried.Id, Bytes("from the other node"), null));
        Assert.Equal(Bytes("from the other node"), await result);
    }

    [Fact]
    public async Task A_dropped_connection_moves_calls_too_and_without_retries_left_the_call_fails_with_503()
    {
        var (router, _) = StartRouter();
        var a = CreateTestProbe();
        var node = Node(1, a.Ref);
        router.Tell(View(node));
        var (call, result) = NewCall(TimeSpan.FromSeconds(5), retries: 1);
        router.Tell(call);
        a.ExpectMsg<Request>();

        router.Tell(new NodeSuspected(node.Address));
        var e = await Assert.ThrowsAsync<MicroException>(() => result);
        Assert.Equal(503, e.Code);
        Assert.Contains("connection to node 127.0.0.1:1 dropped", e.Error.Detail);
    }

    [Fact]
    public async Task A_call_nobody_answers_ends_with_Timeout_at_its_deadline()
    {
        var (router, _) = StartRouter();
        var a = CreateTestProbe();
        router.Tell(View(Node(1, a.Ref)));
        var started = DateTime.UtcNow;
        var (call, result) = NewCall(TimeSpan.FromMilliseconds(300));
        router.Tell(call);

        var e = await Assert.ThrowsAsync<MicroException>(() => result);
        var took = DateTime.UtcNow - started;
        Assert.Equal(408, e.Code);
        Assert.Contains("node 127.0.0.1:1 did not answer", e.Error.Detail);
        // Not before the deadline; after it by no more than a loaded 2-core machine's scheduling.
        Assert.InRange(took, TimeSpan.FromMilliseconds(290), TimeSpan.FromMilliseconds(900));
    }

    [Fact]
    public async Task A_late_error_from_an_abandoned_node_does_not_end_the_retried_call()
    {
        var (router, _) = StartRouter();
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        var nodeA = Node(1, a.Ref);
        var nodeB = Node(2, b.Ref);
        router.Tell(View(nodeA));
        var (call, result) = NewCall(TimeSpan.FromSeconds(5));
        router.Tell(call);
        a.ExpectMsg<Request>();

        router.Tell(View(nodeA with { Status = NodeStatus.Unreachable }, nodeB));
        var retried = b.ExpectMsg<Request>();
        router.Tell(new Response(call.Request.Id, null, MicroError.InternalServerError("greeter", "late")), a.Ref);
        await Task.Delay(50);
        Assert.False(result.IsCompleted);
        b.Reply(new Response(retried.Id, Bytes("ok"), null));
        Assert.Equal(Bytes("ok"), await result);
    }

    /// <summary>
    /// Calls made together, through the client's queue. They are all queued before the router is told
    /// (a real burst may be taken in more than one go; this one is taken at once, so the test is exact).
    /// </summary>
    private (List<RouterActor.Call> Calls, List<Task<byte[]?>> Results) Burst(BurstQueue<RouterActor.Call> queue, IActorRef router, params TimeSpan[] timeouts)
    {
        var made = timeouts.Select(t => NewCall(t)).ToList();
        queue.Actor = ActorRefs.Nobody;
        foreach (var (call, _) in made) queue.Post(call);
        queue.Actor = router;
        router.Tell(RouterActor.Drain.Instance);
        return (made.Select(m => m.Call).ToList(), made.Select(m => m.Result).ToList());
    }

    [Fact]
    public async Task Calls_made_together_leave_in_one_batch_and_one_failing_call_fails_alone()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue);
        var server = CreateTestProbe();
        router.Tell(View(Node(1, server.Ref)));

        var (calls, results) = Burst(queue, router, Enumerable.Repeat(TimeSpan.FromSeconds(5), 5).ToArray());
        var batch = server.ExpectMsg<RequestBatch>();
        Assert.Equal(calls.Select(c => c.Request.Id), batch.Requests.Select(r => r.Id));

        // The answers come back in one batch too; the handler of the third failed (a 500 is not retried).
        server.Reply(new ResponseBatch(batch.Requests.Select((r, i) => i == 2
            ? new Response(r.Id, null, MicroError.InternalServerError("greeter", "third failed"))
            : new Response(r.Id, Bytes($"ok {i}"), null)).ToList()));
        for (var i = 0; i < 5; i++)
        {
            if (i == 2) Assert.Equal(500, (await Assert.ThrowsAsync<MicroException>(() => results[i])).Code);
            else Assert.Equal(Bytes($"ok {i}"), await results[i]);
        }
    }

    [Fact]
    public async Task A_batch_on_a_node_that_dies_fails_over_call_by_call_and_each_call_keeps_its_deadline()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue);
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        var (nodeA, nodeB) = (Node(1, a.Ref), Node(2, b.Ref));
        router.Tell(View(nodeA, nodeB));

        var started = DateTime.UtcNow;
        // The short deadline leaves room for a busy machine: the call must still be alive when it leaves.
        var (calls, results) = Burst(queue, router, TimeSpan.FromMilliseconds(1500), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        Assert.Equal(3, a.ExpectMsg<RequestBatch>().Requests.Count); // all to the first node

        router.Tell(View(nodeA with { Status = NodeStatus.Unreachable }, nodeB));
        var retried = ReceiveRequests(b, 3); // a few calls: each goes at once, so alone or together
        Assert.Equal(calls.Select(c => c.Request.Id).Order(), retried.Select(r => r.Id).Order());

        // B answers the two long calls only: the short one ends at its own deadline, the others with their answers.
        var e = await Assert.ThrowsAsync<MicroException>(() => results[0]);
        Assert.Equal(408, e.Code);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(1480), TimeSpan.FromMilliseconds(2500));
        Assert.False(results[1].IsCompleted || results[2].IsCompleted);
        b.Reply(new ResponseBatch(retried.Where(r => r.Id != calls[0].Request.Id).Select(r => new Response(r.Id, Bytes("from b"), null)).ToList()));
        Assert.Equal(Bytes("from b"), await results[1]);
        Assert.Equal(Bytes("from b"), await results[2]);
    }

    /// <summary>The next <paramref name="count"/> requests <paramref name="server"/> gets, alone or in batches.</summary>
    private static List<Request> ReceiveRequests(Akka.TestKit.TestProbe server, int count)
    {
        var requests = new List<Request>();
        while (requests.Count < count)
            requests.AddRange(server.ExpectMsg<object>() switch
            {
                Request r => [r],
                RequestBatch batch => batch.Requests,
                var other => throw new Xunit.Sdk.XunitException($"expected requests, got {other}"),
            });
        return requests;
    }

    /// <summary>Picks the nodes at the given ports, in turn; after that, the lowest port.</summary>
    private sealed class ScriptedSelector(params int[] ports) : ISelector
    {
        private readonly Queue<int> _ports = new(ports);
        public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) =>
            _ports.TryDequeue(out var port) ? candidates.Single(n => n.Address.Port == port) : candidates.MinBy(n => n.Address.Port)!;
    }

    [Fact]
    public async Task A_retry_avoids_a_node_gone_silent_for_one_that_answers()
    {
        var (router, _) = StartRouter();
        var (a, b, c) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        router.Tell(View(Node(1, a.Ref), Node(2, b.Ref), Node(3, c.Ref)));
        var selector = new ScriptedSelector(1, 2, 3);
        var calls = Enumerable.Range(0, 3).Select(_ => NewCall(TimeSpan.FromSeconds(10))).Select(x => (Call: x.Call with { Options = x.Call.Options with { Selector = selector } }, x.Result)).ToList();
        foreach (var ((call, _), probe) in calls.Zip([a, b, c]))
        {
            router.Tell(call);
            Assert.Equal(call.Request.Id, probe.ExpectMsg<Request>().Id);
        }
        c.Reply(new Response(calls[2].Call.Request.Id, Bytes("c"), null));
        Assert.Equal(Bytes("c"), await calls[2].Result);

        // Past the silence threshold, A is found unreachable. B has not answered its call either (a partition
        // cuts it off too, and the failure detector has yet to say so); C has: A's call moves on to C.
        a.ExpectNoMsg(NodeWatch.SilentAfter + TimeSpan.FromMilliseconds(100));
        router.Tell(View(Node(1, a.Ref, NodeStatus.Unreachable), Node(2, b.Ref), Node(3, c.Ref)));
        var moved = c.ExpectMsg<Request>();
        Assert.Equal(calls[0].Call.Request.Id, moved.Id);
        b.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        c.Reply(new Response(moved.Id, Bytes("moved"), null));
        Assert.Equal(Bytes("moved"), await calls[0].Result);
    }

    [Fact]
    public async Task A_call_alone_goes_out_at_once_not_in_a_batch()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue);
        var server = CreateTestProbe();
        router.Tell(View(Node(1, server.Ref)));
        var (_, results) = Burst(queue, router, TimeSpan.FromSeconds(5));
        var request = server.ExpectMsg<Request>();
        server.Reply(new Response(request.Id, Bytes("alone"), null));
        Assert.Equal(Bytes("alone"), await results[0]);
    }

    [Fact]
    public async Task A_few_calls_in_flight_each_go_at_once()
    {
        var (router, _) = StartRouter(defaults: Defaults with { HeardWithin = TimeSpan.FromSeconds(10) });
        var server = CreateTestProbe();
        router.Tell(View(Node(1, server.Ref)));
        var calls = Enumerable.Range(0, LaneRule.FewCalls).Select(_ => NewCall(TimeSpan.FromSeconds(5))).ToList();
        foreach (var (call, _) in calls)
        {
            router.Tell(call);
            Assert.Equal(call.Request.Id, server.ExpectMsg<Request>().Id); // not held back by the unanswered calls ahead of it
        }
        foreach (var (call, _) in calls) server.Reply(new Response(call.Request.Id, Bytes("ok"), null));
        foreach (var (_, result) in calls) Assert.Equal(Bytes("ok"), await result);
    }

    [Fact]
    public async Task Under_load_calls_wait_until_the_message_ahead_is_heard_from_then_leave_together()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue, Defaults with { HeardWithin = TimeSpan.FromSeconds(10) });
        var server = CreateTestProbe();
        router.Tell(View(Node(1, server.Ref)));

        var (_, first) = Burst(queue, router, Enumerable.Repeat(TimeSpan.FromSeconds(5), 6).ToArray());
        var ahead = server.ExpectMsg<RequestBatch>().Requests;
        var (later, second) = Burst(queue, router, TimeSpan.FromSeconds(5));
        var (latest, third) = Burst(queue, router, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        server.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // seven calls in flight and a message unheard from: they wait

        router.Tell(new Response(ahead[0].Id, Bytes("first"), null), server.Ref);
        var together = server.ExpectMsg<RequestBatch>().Requests;
        Assert.Equal(later.Concat(latest).Select(c => c.Request.Id), together.Select(r => r.Id));
        Assert.Equal(Bytes("first"), await first[0]);

        server.Reply(new ResponseBatch(ahead.Skip(1).Concat(together).Select(r => new Response(r.Id, Bytes("ok"), null)).ToList()));
        foreach (var result in first.Skip(1).Concat(second).Concat(third)) Assert.Equal(Bytes("ok"), await result);
    }

    [Fact]
    public async Task Under_load_held_calls_leave_without_waiting_once_they_are_half_the_calls_on_their_node()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue, Defaults with { HeardWithin = TimeSpan.FromSeconds(10) });
        var (server, other) = (CreateTestProbe(), CreateTestProbe());
        router.Tell(View(Node(1, server.Ref), Node(2, other.Ref)));
        var timeouts = (int n) => Enumerable.Repeat(TimeSpan.FromSeconds(5), n).ToArray();
        // Calls on another node of the service do not count: half is of the calls on the node itself.
        queue.Actor = ActorRefs.Nobody;
        foreach (var (call, _) in Enumerable.Range(0, 2 * LaneRule.FullMessage).Select(_ => NewCall(TimeSpan.FromSeconds(5))))
            queue.Post(call with { Options = call.Options with { Selector = new ScriptedSelector(2) } });
        queue.Actor = router;
        router.Tell(RouterActor.Drain.Instance);
        Assert.Equal(2 * LaneRule.FullMessage, other.ExpectMsg<RequestBatch>().Requests.Count);

        var (_, first) = Burst(queue, router, timeouts(LaneRule.FullMessage));
        var ahead = server.ExpectMsg<RequestBatch>().Requests;
        // As many again: half of the calls on this node, a full message: it goes while the first is unheard from.
        var (second, secondResults) = Burst(queue, router, timeouts(LaneRule.FullMessage));
        Assert.Equal(second.Select(c => c.Request.Id), server.ExpectMsg<RequestBatch>().Requests.Select(r => r.Id));
        // Two more are not enough for a message of their own: they wait for an answer.
        var (third, thirdResults) = Burst(queue, router, timeouts(2));
        server.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // The first message heard from, the second still is not: they wait on.
        router.Tell(new Response(ahead[0].Id, Bytes("first"), null), server.Ref);
        Assert.Equal(Bytes("first"), await first[0]);
        server.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        router.Tell(new Response(second[0].Request.Id, Bytes("second"), null), server.Ref);
        Assert.Equal(third.Select(c => c.Request.Id), server.ExpectMsg<RequestBatch>().Requests.Select(r => r.Id));
        Assert.Equal(Bytes("second"), await secondResults[0]);
        server.Reply(new ResponseBatch(ahead.Skip(1).Concat(second.Skip(1).Concat(third).Select(c => c.Request))
            .Select(r => new Response(r.Id, Bytes("ok"), null)).ToList()));
        foreach (var result in first.Skip(1).Concat(secondResults.Skip(1)).Concat(thirdResults)) Assert.Equal(Bytes("ok"), await result);
    }

    [Fact]
    public async Task A_message_not_heard_from_in_time_stops_holding_up_the_calls_behind_it()
    {
        var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
        var (router, _) = StartRouter(queue, Defaults with { HeardWithin = TimeSpan.FromMilliseconds(200), DeadlineCheckInterval = TimeSpan.FromMinutes(1) });
        var server = CreateTestProbe();
        router.Tell(View(Node(1, server.Ref)));

        var (_, slow) = Burst(queue, router, Enumerable.Repeat(TimeSpan.FromSeconds(5), 6).ToArray());
        var ahead = server.ExpectMsg<RequestBatch>().Requests;
        var sent = DateTime.UtcNow;
        var (behind, results) = Burst(queue, router, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        var released = server.ExpectMsg<RequestBatch>(TimeSpan.FromSeconds(2)).Requests; // nothing answered: released by age
        Assert.InRange(DateTime.UtcNow - sent, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(1));
        Assert.Equal(behind.Select(c => c.Request.Id), released.Select(r => r.Id));
        server.Reply(new ResponseBatch(ahead.Concat(released).Select(r => new Response(r.Id, Bytes("late"), null)).ToList()));
        foreach (var result in slow.Concat(results)) Assert.Equal(Bytes("late"), await result);
    }
}
