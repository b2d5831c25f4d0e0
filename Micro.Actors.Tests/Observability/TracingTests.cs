using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Observability;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Tests.Observability;

/// <summary>Traces across real nodes: calls, retries, events and the logs written on the way, each in one trace.</summary>
public sealed class TracingTests : IDisposable
{
    private static readonly CallOptions Patient = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == Telemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    private async Task<List<Activity>> TraceAsync(ActivityTraceId trace, int spans, string what)
    {
        await Eventually.TrueAsync(() => _spans.Count(s => s.TraceId == trace) >= spans, TimeSpan.FromSeconds(5), what);
        return _spans.Where(s => s.TraceId == trace).ToList();
    }

    [Fact]
    public async Task A_call_through_a_service_to_another_is_one_trace_of_client_and_server_spans_with_errors_marked()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("back", s => s
            .Handle<Ping, Ping>("Back.Echo", (p, _) => Task.FromResult(p))
            .Handle<Ping, Ping>("Back.Fail", (_, _) => throw MicroError.BadRequest("back", "no such thing").ToException()));
        MicroService? front = null;
        front = await cluster.StartServiceAsync("front", s => s
            .Handle<Ping, Ping>("Front.Call", (p, _) => front!.Client.CallAsync<Ping>("back", p.Text == "fail" ? "Back.Fail" : "Back.Echo", p)));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "back", 1);
        await TestCluster.WaitForNodesAsync(caller, "front", 1);

        using var root = new Activity("test").Start();
        await caller.Client.CallAsync<Ping>("front", "Front.Call", new Ping("hi"), Patient);
        root.Stop();

        var trace = await TraceAsync(root.TraceId, 4, "four spans");
        var client = trace.Single(s => s is { Kind: ActivityKind.Client, DisplayName: "Front/Call" });
        var frontServer = trace.Single(s => s is { Kind: ActivityKind.Server, DisplayName: "Front/Call" });
        var frontClient = trace.Single(s => s is { Kind: ActivityKind.Client, DisplayName: "Back/Echo" });
        var backServer = trace.Single(s => s is { Kind: ActivityKind.Server, DisplayName: "Back/Echo" });
        Assert.Equal(root.SpanId, client.ParentSpanId);
        Assert.Equal(client.SpanId, frontServer.ParentSpanId);      // across nodes, through traceparent
        Assert.Equal(frontServer.SpanId, frontClient.ParentSpanId); // the handler's own call continues its span
        Assert.Equal(frontClient.SpanId, backServer.ParentSpanId);
        Assert.Equal("Front/Call", client.GetTagItem("rpc.method"));
        Assert.Equal("Front", client.GetTagItem("rpc.service"));
        Assert.Equal("micro.actors", client.GetTagItem("rpc.system.name"));
        Assert.Equal("micro.actors", client.GetTagItem("rpc.system"));
        Assert.Equal("front", client.GetTagItem("micro.service"));
        Assert.Equal("200", client.GetTagItem("rpc.response.status_code"));
        Assert.Equal(front.Address, $"{client.GetTagItem("server.address")}:{client.GetTagItem("server.port")}");
        Assert.Equal(front.Address, frontServer.GetTagItem("micro.node"));
        var attempt = Assert.Single(client.Events);
        Assert.Equal("micro.attempt", attempt.Name);
        Assert.Contains(attempt.Tags, t => t.Key == "micro.outcome" && (string?)t.Value == "200");
        Assert.All(trace, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));

        // A failed call: its spans say so, on both sides, with the code.
        using var failing = new Activity("failing").Start();
        await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Ping>("front", "Front.Call", new Ping("fail"), Patient));
        failing.Stop();
        var failed = await TraceAsync(failing.TraceId, 4, "four spans of the failed call");
        Assert.All(failed, s => Assert.Equal(ActivityStatusCode.Error, s.Status));
        Assert.All(failed, s => Assert.Equal("400", s.GetTagItem("rpc.response.status_code")));
        Assert.All(failed, s => Assert.Equal("400", s.GetTagItem("error.type")));
    }

    [Fact]
    public async Task A_retry_on_another_node_is_on_the_call_span_as_a_second_attempt_marked_as_a_failover()
    {
        await using var cluster = new TestCluster();
        var broken = await cluster.StartServiceAsync("flaky", s => s.Handle<Ping, Ping>("Flaky.Echo",
            (_, _) => throw MicroError.ServiceUnavailable("flaky", "this node is broken").ToException()));
        var healthy = await cluster.StartServiceAsync("flaky", s => s.Handle<Ping, Ping>("Flaky.Echo", (p, _) => Task.FromResult(p)));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "flaky", 2);

        // The selector is random: within a few calls one goes to the broken node first and is retried on the other.
        Activity? client = null;
        for (var i = 0; i < 40 && client is null; i++)
        {
            using var root = new Activity("retry").Start();
            await caller.Client.CallAsync<Ping>("flaky", "Flaky.Echo", new Ping("x"), Patient);
            root.Stop();
            var trace = await TraceAsync(root.TraceId, 2, "the call's spans");
            client = trace.Single(s => s.Kind == ActivityKind.Client) is { } c && c.Events.Count() == 2 ? c : null;
        }
        Assert.NotNull(client);
        var attempts = client.Events.ToList();
        Assert.Equal(broken.Address, attempts[0].Tags.Single(t => t.Key == "micro.node").Value);
        Assert.Equal("503", attempts[0].Tags.Single(t => t.Key == "micro.outcome").Value);
        Assert.Equal(healthy.Address, attempts[1].Tags.Single(t => t.Key == "micro.node").Value);
        Assert.Equal("200", attempts[1].Tags.Single(t => t.Key == "micro.outcome").Value);
        Assert.Contains(attempts[1].Tags, t => t is { Key: "micro.failover", Value: true });
        Assert.Equal(2, client.GetTagItem("micro.attempts"));
        Assert.Equal(ActivityStatusCode.Unset, client.Status); // the call succeeded
        Assert.Equal("200", client.GetTagItem("rpc.response.status_code"));
    }

    [Fact]
    public async Task A_call_its_caller_cancels_ends_its_span_as_cancelled_by_the_caller_not_as_a_server_error()
    {
        await using var cluster = new TestCluster();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await cluster.StartServiceAsync("slow", s => s.Handle<Ping, Ping>("Slow.Wait", async (p, c) =>
        {
            started.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(30), c.Cancellation);
            return p;
        }));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "slow", 1);

        using var cancel = new CancellationTokenSource();
        using var root = new Activity("cancelled").Start();
        var call = caller.Client.CallAsync<Ping>("slow", "Slow.Wait", new Ping("x"), Patient, cancel.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(5)));
        root.Stop();

        var client = (await TraceAsync(root.TraceId, 1, "the call's client span")).Single(s => s.Kind == ActivityKind.Client);
        Assert.Equal("499", client.GetTagItem("rpc.response.status_code"));
        Assert.Equal("499", client.GetTagItem("error.type"));
        Assert.Equal("the caller cancelled the call", client.StatusDescription);
    }

    [Fact]
    public async Task A_publish_is_a_producer_span_and_each_delivery_a_consumer_span_in_its_trace_whose_calls_continue_it()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("audit", s => s.Handle<Ping, Ping>("Audit.Log", (p, _) => Task.FromResult(p)));
        MicroService? subscriber = null;
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber = await cluster.StartServiceAsync("listener", s => s.Subscribe<Note>("notes", async (n, _) =>
        {
            await subscriber!.Client.CallAsync<Ping>("audit", "Audit.Log", new Ping(n.Text), Patient);
            handled.TrySetResult();
        }, queue: "auditors"));
        var publisher = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(publisher, "audit", 1);
        await TestCluster.WaitForNodesAsync(subscriber, "audit", 1);
        await publisher.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(10));

        using var root = new Activity("publish").Start();
        await publisher.Client.PublishAsync("notes", new Note("hello"));
        root.Stop();
        await handled.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var trace = await TraceAsync(root.TraceId, 4, "producer, consumer, client and server spans");
        var producer = trace.Single(s => s.Kind == ActivityKind.Producer);
        var consumer = trace.Single(s => s.Kind == ActivityKind.Consumer);
        var call = trace.Single(s => s.Kind == ActivityKind.Client);
        var served = trace.Single(s => s.Kind == ActivityKind.Server);
        Assert.Equal("publish notes", producer.DisplayName);
        Assert.Equal(root.SpanId, producer.ParentSpanId);
        Assert.Equal("process notes", consumer.DisplayName);
        Assert.Equal(producer.SpanId, consumer.ParentSpanId);   // across nodes, through the event's headers
        Assert.Equal(producer.SpanId, Assert.Single(consumer.Links).Context.SpanId);
        Assert.Equal(consumer.SpanId, call.ParentSpanId);       // the subscriber's own call continues it
        Assert.Equal(call.SpanId, served.ParentSpanId);
        Assert.Equal("notes", producer.GetTagItem("messaging.destination.name"));
        Assert.Equal("send", producer.GetTagItem("messaging.operation.type"));
        Assert.Equal("micro.actors", consumer.GetTagItem("messaging.system"));
        Assert.Equal("process", consumer.GetTagItem("messaging.operation.type"));
        Assert.Equal("auditors", consumer.GetTagItem("messaging.consumer.group.name"));
        Assert.NotNull(consumer.GetTagItem("messaging.message.id"));
    }

    private static async IAsyncEnumerable<Ping> Count(int to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        for (var i = 1; i <= to; i++)
        {
            await Task.Yield();
            cancellation.ThrowIfCancellationRequested();
            yield return new Ping($"{i}");
        }
    }

    private static async IAsyncEnumerable<Ping> Lines(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return new Ping($"line {i}");
        }
    }

    [Fact]
    public async Task A_streams_spans_last_its_whole_life_and_count_its_items_each_way_and_a_stream_the_caller_stops_is_not_a_failure()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("streams", s => s
            .HandleServerStream<Ping, Ping>("Streams.Count", (p, c) => Count(int.Parse(p.Text), c.Cancellation))
            .HandleBidiStream<Ping, Ping>("Streams.Echo", (lines, c) => lines));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "streams", 1);

        // A server stream of 5, read to its end: the client span is still open after the first item.
        using (var root = new Activity("count").Start())
        {
            var read = 0;
            await foreach (var _ in caller.Client.StreamAsync<Ping>("streams", "Streams.Count", new Ping("5"), Patient))
                if (++read == 1) Assert.DoesNotContain(_spans, s => s.TraceId == root.TraceId && s.Kind == ActivityKind.Client);
            Assert.Equal(5, read);
            var trace = await TraceAsync(root.TraceId, 2, "the stream's two spans");
            var client = trace.Single(s => s.Kind == ActivityKind.Client);
            var server = trace.Single(s => s.Kind == ActivityKind.Server);
            Assert.Equal(client.SpanId, server.ParentSpanId);
            Assert.Equal("Streams/Count", client.DisplayName);
            Assert.Equal("ServerStream", client.GetTagItem("micro.call.kind"));
            Assert.Equal((0L, 5L), ((long?)client.GetTagItem("micro.stream.sent"), (long?)client.GetTagItem("micro.stream.received")));
            Assert.Equal((5L, 0L), ((long?)server.GetTagItem("micro.stream.sent"), (long?)server.GetTagItem("micro.stream.received")));
            Assert.All(trace, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));
            Assert.All(trace, s => Assert.Null(s.GetTagItem("micro.stream.cancelled")));
        }

        // Bidirectional: three lines each way.
        using (var root = new Activity("echo").Start())
        {
            var replies = new List<Ping>();
            await foreach (var reply in caller.Client.StreamAsync<Ping, Ping>("streams", "Streams.Echo", Lines(3), Patient)) replies.Add(reply);
            Assert.Equal(3, replies.Count);
            var trace = await TraceAsync(root.TraceId, 2, "the bidirectional stream's two spans");
            var client = trace.Single(s => s.Kind == ActivityKind.Client);
            var server = trace.Single(s => s.Kind == ActivityKind.Server);
            Assert.Equal("Bidirectional", server.GetTagItem("micro.call.kind"));
            Assert.Equal((3L, 3L), ((long?)client.GetTagItem("micro.stream.sent"), (long?)client.GetTagItem("micro.stream.received")));
            Assert.Equal((3L, 3L), ((long?)server.GetTagItem("micro.stream.sent"), (long?)server.GetTagItem("micro.stream.received")));
        }

        // The caller stops after 2 of 1000: both spans end, marked as stopped, neither failed.
        using (var root = new Activity("stopped").Start())
        {
            var read = 0;
            await foreach (var _ in caller.Client.StreamAsync<Ping>("streams", "Streams.Count", new Ping("1000"), Patient))
                if (++read == 2) break;
            var trace = await TraceAsync(root.TraceId, 2, "the stopped stream's two spans");
            var client = trace.Single(s => s.Kind == ActivityKind.Client);
            var server = trace.Single(s => s.Kind == ActivityKind.Server);
            Assert.Equal(2L, client.GetTagItem("micro.stream.received"));
            Assert.All(trace, s => Assert.Equal(true, s.GetTagItem("micro.stream.cancelled")));
            Assert.All(trace, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));
            Assert.True((long)server.GetTagItem("micro.stream.sent")! < 1000, "the handler went on after the caller stopped");
        }
    }

    public sealed class NoteTaker : Micro.Actors.Server.MicroHandler
    {
        public NoteTaker(ILogger<NoteTaker> log) => Receive<Note>(n =>
        {
            log.LogInformation("Taking a note: {Text}", n.Text);
            Sender.Tell(new Ping(n.Text));
        });
    }

    [Fact]
    public async Task What_a_handler_and_a_subscriber_log_carries_the_trace_and_span_id_of_their_spans()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var logs = new CapturedLogs();
        var builder = TestHost.Logged(logs, "Information");
        builder.Services.AddMicroService("notes", s => s
            .Handle<NoteTaker>("Notes", e => e.Map<Note, Ping>("Take"))
            .Subscribe<Note>("notes", (n, c) =>
            {
                c.Services.GetRequiredService<ILogger<TracingTests>>().LogInformation("Heard a note: {Text}", n.Text);
                return Task.CompletedTask;
            }), TestHost.In(cluster));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            await TestCluster.WaitForNodesAsync(caller, "notes", 1);
            await caller.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(10));

            using var root = new Activity("logged").Start();
            await caller.Client.CallAsync<Ping>("notes", "Notes.Take", new Note("call"), Patient);
            await caller.Client.PublishAsync("notes", new Note("event"));
            root.Stop();
            var trace = await TraceAsync(root.TraceId, 4, "the call's and the event's spans");
            await Eventually.TrueAsync(() => logs.Entries.Any(e => e.Message == "Heard a note: event"), TimeSpan.FromSeconds(5), "the subscriber's line");

            var server = trace.Single(s => s.Kind == ActivityKind.Server);
            var consumer = trace.Single(s => s.Kind == ActivityKind.Consumer);
            var taken = logs.Entries.Single(e => e.Message == "Taking a note: call");
            Assert.Equal(root.TraceId.ToHexString(), taken.Scoped("TraceId"));
            Assert.Equal(server.SpanId.ToHexString(), taken.Scoped("SpanId"));
            var heard = logs.Entries.Single(e => e.Message == "Heard a note: event");
            Assert.Equal(root.TraceId.ToHexString(), heard.Scoped("TraceId"));
            Assert.Equal(consumer.SpanId.ToHexString(), heard.Scoped("SpanId"));
        }
        finally { await host.StopAsync(); }
    }
}
