using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Telemetry;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Micro.Actors.Tests.Observability;

/// <summary>OpenTelemetry's own SDK and in-memory exporters: what an app that sets up OpenTelemetry gets from a node.</summary>
public sealed class OpenTelemetryTests
{
    [Fact]
    public async Task A_hosted_node_joins_the_apps_OpenTelemetry_by_itself_and_a_hand_built_provider_with_AddMicroInstrumentation()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var spans = new LockedList<Activity>();
        var metrics = new LockedList<Metric>();
        var builder = TestHost.Builder();
        builder.Services.AddMicroService("otel-echo", s => s.Handle<Ping, Ping>("Echo.Say", (p, _) => Task.FromResult(p)), TestHost.In(cluster));
        builder.Services.AddOpenTelemetry()   // no AddSource, no AddMeter: the node adds its own
            .WithTracing(t => t.AddInMemoryExporter(spans))
            .WithMetrics(m => m.AddInMemoryExporter(metrics));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            // The caller's side, through a provider built by hand.
            var callerSpans = new LockedList<Activity>();
            using var tracer = Sdk.CreateTracerProviderBuilder().AddMicroInstrumentation().AddInMemoryExporter(callerSpans).Build();
            await TestCluster.WaitForNodesAsync(caller, "otel-echo", 1);
            for (var i = 0; i < 3; i++) await caller.Client.CallAsync<Ping>("otel-echo", "Echo.Say", new Ping("x"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) });

            host.Services.GetRequiredService<TracerProvider>().ForceFlush();
            host.Services.GetRequiredService<MeterProvider>().ForceFlush();
            tracer!.ForceFlush();
            // Each provider hears every node of this process (other tests' too): these are the ones of otel-echo.
            var clients = callerSpans.Where(s => s.Kind == ActivityKind.Client && (string?)s.GetTagItem("micro.service") == "otel-echo").ToList();
            var servers = spans.Where(s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("micro.service") == "otel-echo").ToList();
            Assert.Equal(3, clients.Count);
            Assert.Equal(3, servers.Count);
            Assert.All(servers, s => Assert.Contains(clients, c => c.TraceId == s.TraceId && c.SpanId == s.ParentSpanId));
            var duration = Assert.Single(metrics, m => m.Name == "rpc.server.call.duration");
            long count = 0;
            foreach (ref readonly var point in duration.GetMetricPoints())
            {
                var ours = false;
                foreach (var tag in point.Tags) ours |= tag is { Key: "micro.service", Value: "otel-echo" };
                if (ours) count += point.GetHistogramCount();
            }
            Assert.Equal(3, count);
            Assert.Contains(metrics, m => m.Name == "micro.cluster.members");
        }
        finally { await host.StopAsync(); }
    }
}
