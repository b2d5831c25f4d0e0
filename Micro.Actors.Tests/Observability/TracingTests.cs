using System.Collections.Concurrent;
using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Observability;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Observability;

/// <summary>Traces across real nodes: one trace from a caller through a service to the service it calls.</summary>
public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == Tracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task A_call_through_a_service_to_another_is_one_trace_of_client_and_server_spans_with_errors_marked()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("back", s => s
            .Handle<Ping, Ping>("Back.Echo", (p, _) => Task.FromResult(p))
            .Handle<Ping, Ping>("Back.Fail", (_, _) => throw MicroError.BadRequest("back", "no such thing").ToException()), o => o.Wrappers.AddTracing());
        MicroService? front = null;
        front = await cluster.StartServiceAsync("front", s => s
            .Handle<Ping, Ping>("Front.Call", (p, _) => front!.Client.CallAsync<Ping>("back", p.Text == "fail" ? "Back.Fail" : "Back.Echo", p)),
            o => o.Wrappers.AddTracing());
        var caller = await cluster.StartClientAsync(o => o.Wrappers.AddTracing());
        await TestCluster.WaitForNodesAsync(caller, "back", 1);
        await TestCluster.WaitForNodesAsync(caller, "front", 1);

        using var root = new Activity("test").Start();
        await caller.Client.CallAsync<Ping>("front", "Front.Call", new Ping("hi"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) });
        root.Stop();

        await Eventually.TrueAsync(() => _spans.Count(s => s.TraceId == root.TraceId) >= 4, TimeSpan.FromSeconds(5), "four spans");
        var trace = _spans.Where(s => s.TraceId == root.TraceId).ToList();
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
        Assert.Equal("front", client.GetTagItem("micro.service"));
        Assert.Equal(front.Address, $"{client.GetTagItem("server.address")}:{client.GetTagItem("server.port")}");
        var attempt = Assert.Single(client.Events);
        Assert.Equal("micro.attempt", attempt.Name);
        Assert.Contains(attempt.Tags, t => t.Key == "micro.outcome" && (string?)t.Value == "ok");
        Assert.All(trace, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));

        // A failed call: its spans say so, on both sides, with the code.
        using var failing = new Activity("failing").Start();
        await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Ping>("front", "Front.Call", new Ping("fail"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) }));
        failing.Stop();
        await Eventually.TrueAsync(() => _spans.Count(s => s.TraceId == failing.TraceId) >= 4, TimeSpan.FromSeconds(5), "four spans of the failed call");
        var failed = _spans.Where(s => s.TraceId == failing.TraceId).ToList();
        Assert.All(failed, s => Assert.Equal(ActivityStatusCode.Error, s.Status));
        Assert.All(failed, s => Assert.Equal("400", s.GetTagItem("rpc.status_code")));
    }
}
