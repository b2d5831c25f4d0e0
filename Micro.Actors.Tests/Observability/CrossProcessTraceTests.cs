using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Hosting.Telemetry;
using Micro.Actors.Samples.Front;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Xunit.Abstractions;
using Kind = Micro.Actors.Tests.Otlp.Span.Types.SpanKind;

namespace Micro.Actors.Tests.Observability;

/// <summary>
/// One trace across real processes: this test's node (OpenTelemetry's in-memory exporter) calls the front
/// sample, which calls a greeter sample and publishes to a subscriber sample; those three export over OTLP/HTTP
/// to a receiver in the test. Then a greeter is killed while it serves a call, and the call's span shows the retry.
/// </summary>
public sealed class CrossProcessTraceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly CallOptions Patient = new() { Timeout = TimeSpan.FromSeconds(15) };

    [Fact]
    public async Task A_call_is_one_trace_from_the_client_through_two_services_to_a_subscriber_and_a_killed_node_is_a_retry_on_its_span()
    {
        await using var otlp = new OtlpReceiver();
        var (p1, p2, pf, ps) = (TestCluster.FreePort(), TestCluster.FreePort(), TestCluster.FreePort(), TestCluster.FreePort());
        string[] Seed(params string[] args) => [.. args, "--seed", $"127.0.0.1:{p1}"];
        using var g1 = ProcessRunner.StartSample(otlp.Environment, "greeter", "--port", $"{p1}");
        await g1.WaitForLogAsync("is Up in cluster", Startup);
        using var g2 = ProcessRunner.StartSample(otlp.Environment, Seed("greeter", "--port", $"{p2}"));
        using var front = ProcessRunner.StartSample(otlp.Environment, Seed("front", "--port", $"{pf}"));
        using var subscriber = ProcessRunner.StartSample(otlp.Environment, Seed("subscriber", "--topic", FrontService.Topic, "--port", $"{ps}"));
        foreach (var p in new[] { g2, front, subscriber }) await p.WaitForLogAsync("is Up in cluster", Startup);

        using var source = new ActivitySource("cross-process-test");
        var spans = new LockedList<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(source.Name).AddMicroInstrumentation().AddInMemoryExporter(spans).Build();
        await using var client = MicroService.CreateClient(o =>
        {
            o.Host = "127.0.0.1";
            o.Port = 0;
            o.SeedNodes.Add($"127.0.0.1:{p1}");
            o.Environment = new Dictionary<string, string?>();
            // Its leave at the end would wait for the killed greeter to be downed (Akka's split-brain resolver: 20 s by default): not what is tested.
            o.Config = "akka.loglevel = WARNING\nakka.coordinated-shutdown.phases.cluster-exiting.timeout = 2s";
        });
        await client.StartAsync();
        await TestCluster.WaitForNodesAsync(client, GreeterService.Name, 2);
        await TestCluster.WaitForNodesAsync(client, FrontService.Name, 1);

        // 1. Client → front → greeter, and front's publish → subscriber. Gossip tells the front of the subscriber
        // a moment after it is Up (until then a publish goes nowhere, at most once): call until an event is delivered.
        ReceivedSpan? consumer = null;
        ActivityTraceId trace = default;
        await Eventually.TrueAsync(async () =>
        {
            using var root = source.StartActivity("greet")!;
            trace = root.TraceId;
            await client.Client.CallAsync<HelloReply>(FrontService.Name, "Front.Hello", new HelloRequest("Ann"), Patient);
            var traceId = trace.ToHexString();
            await Eventually.TrueAsync(() => otlp.Spans.Any(s => s.TraceId == traceId && s.Kind == Kind.Producer), TimeSpan.FromSeconds(5), "the front's publish span");
            try { await Eventually.TrueAsync(() => (consumer = otlp.Spans.FirstOrDefault(s => s.TraceId == traceId && s.Kind == Kind.Consumer)) is not null, TimeSpan.FromSeconds(2), "a delivery"); }
            catch (TimeoutException) { return false; }
            return true;
        }, TimeSpan.FromSeconds(30), "an event of a Front.Hello delivered to the subscriber");

        var id = trace.ToHexString();
        await Eventually.TrueAsync(() => otlp.Spans.Count(s => s.TraceId == id) >= 5, TimeSpan.FromSeconds(5), "five spans from the three services");
        tracer.ForceFlush();
        var callSpan = spans.Snapshot().Single(s => s.TraceId == trace && s.Kind == ActivityKind.Client);
        var received = otlp.Spans.Where(s => s.TraceId == id).ToList();
        output.WriteLine(string.Join('\n', received));
        var frontServer = received.Single(s => s is { Service: "front", Kind: Kind.Server });
        var frontClient = received.Single(s => s is { Service: "front", Kind: Kind.Client });
        var greeterServer = received.Single(s => s is { Service: "greeter", Kind: Kind.Server });
        var producer = received.Single(s => s is { Service: "front", Kind: Kind.Producer });
        Assert.Equal("subscriber", consumer!.Service);

        Assert.Equal("Front/Hello", callSpan.DisplayName);
        Assert.Equal(callSpan.SpanId.ToHexString(), frontServer.ParentSpanId);   // process to process, through traceparent
        Assert.Equal(frontServer.SpanId, frontClient.ParentSpanId);               // the handler's own call continues its span
        Assert.Equal(frontClient.SpanId, greeterServer.ParentSpanId);
        Assert.Equal(frontServer.SpanId, producer.ParentSpanId);                  // and so does its publish
        Assert.Equal(producer.SpanId, consumer.ParentSpanId);
        Assert.Contains(consumer.Span.Links, l => Convert.ToHexStringLower(l.SpanId.Span) == producer.SpanId);
        Assert.Equal(("Front/Hello", "Greeter/Hello", "Greeter/Hello"), (frontServer.Name, frontClient.Name, greeterServer.Name));
        Assert.Equal(("publish greetings", "process greetings"), (producer.Name, consumer.Name));
        Assert.Equal("micro.actors", frontServer["rpc.system.name"]);
        Assert.Equal("Greeter/Hello", greeterServer["rpc.method"]);
        Assert.Equal("200", greeterServer["rpc.response.status_code"]);
        Assert.Equal($"{pf}", $"{callSpan.GetTagItem("server.port")}");
        Assert.Equal("greetings", consumer["messaging.destination.name"]);
        Assert.Equal("micro.actors", consumer["messaging.system"]);
        Assert.All(received, s => Assert.False(s.Failed, $"{s} failed"));

        // 2. A failed call: the greeter's 400 is an error on every span of the chain, with its code.
        ActivityTraceId failedTrace;
        using (var root = source.StartActivity("greet nobody")!)
        {
            failedTrace = root.TraceId;
            var e = await Assert.ThrowsAsync<MicroException>(() => client.Client.CallAsync<HelloReply>(FrontService.Name, "Front.Hello", new HelloRequest(""), Patient));
            Assert.Equal(400, e.Error.Code);
        }
        var failedId = failedTrace.ToHexString();
        await Eventually.TrueAsync(() => otlp.Spans.Count(s => s.TraceId == failedId) >= 3, TimeSpan.FromSeconds(5), "the failed call's three spans");
        tracer.ForceFlush();
        var failedCall = spans.Snapshot().Single(s => s.TraceId == failedTrace && s.Kind == ActivityKind.Client);
        Assert.Equal(ActivityStatusCode.Error, failedCall.Status);
        Assert.Equal("400", failedCall.GetTagItem("error.type"));
        var failedSpans = otlp.Spans.Where(s => s.TraceId == failedId).ToList();
        Assert.Equal(3, failedSpans.Count(s => s.Failed && (string?)s["error.type"] == "400"));
        Assert.DoesNotContain(failedSpans, s => s.Kind == Kind.Producer); // nothing was published

        // 3. A greeter killed while it serves a call: the call moves to the other greeter, one span with two attempts.
        ActivityTraceId retriedTrace;
        ProcessRunner killed;
        using (var root = source.StartActivity("wait")!)
        {
            retriedTrace = root.TraceId;
            var call = client.Client.CallAsync<HelloReply>(GreeterService.Name, "Greeter.Wait", new WaitRequest(2000), Patient);
            await Eventually.TrueAsync(() => g1.Stderr.Concat(g2.Stderr).Any(l => l.Contains("Waiting 2000 ms")), TimeSpan.FromSeconds(10), "a greeter to take the call");
            killed = g1.Stderr.Any(l => l.Contains("Waiting 2000 ms")) ? g1 : g2;
            killed.Kill();
            await killed.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.True(killed.IsGone(), "the killed greeter is still running");
            var reply = await call;
            Assert.Equal($"127.0.0.1:{(killed == g1 ? p2 : p1)}", reply.Node);
        }
        tracer.ForceFlush();
        var retried = spans.Snapshot().Single(s => s.TraceId == retriedTrace && s.Kind == ActivityKind.Client);
        output.WriteLine(string.Join('\n', retried.Events.Select(e => $"{e.Name}: {string.Join(", ", e.Tags.Select(t => $"{t.Key}={t.Value}"))}")));
        var attempts = retried.Events.Where(e => e.Name == "micro.attempt").ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal("503", attempts[0].Tags.Single(t => t.Key == "micro.outcome").Value);
        Assert.Equal("200", attempts[1].Tags.Single(t => t.Key == "micro.outcome").Value);
        Assert.Contains(attempts[1].Tags, t => t is { Key: "micro.failover", Value: true });
        Assert.Equal(2, retried.GetTagItem("micro.attempts"));
        Assert.Equal(ActivityStatusCode.Unset, retried.Status);
        var retriedId = retriedTrace.ToHexString();
        await Eventually.TrueAsync(() => otlp.Spans.Any(s => s.TraceId == retriedId && s.Kind == Kind.Server), TimeSpan.FromSeconds(5), "the surviving greeter's span");
        var served = otlp.Spans.Single(s => s.TraceId == retriedId && s.Kind == Kind.Server);
        Assert.Equal(retried.SpanId.ToHexString(), served.ParentSpanId);
        Assert.Equal(2L, served["micro.attempt"]);
    }
}
