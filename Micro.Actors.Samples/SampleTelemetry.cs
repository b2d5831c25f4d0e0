using Micro.Actors.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Micro.Actors.Samples;

/// <summary>
/// The samples' OpenTelemetry, chosen by configuration: <c>Telemetry:Exporter</c> (<c>Telemetry__Exporter</c>) =
/// <c>none</c> (the default), <c>console</c>, or <c>otlp</c> (OpenTelemetry's own <c>OTEL_EXPORTER_OTLP_*</c>
/// settings: endpoint, protocol). The node's spans and metrics join by themselves (the hosting adds them).
/// </summary>
public static class SampleTelemetry
{
    public const string Setting = "Telemetry:Exporter";

    public static OpenTelemetryBuilder AddSampleTelemetry(this IHostApplicationBuilder builder, string service)
    {
        var exporter = builder.Configuration[Setting] ?? "none";
        if (exporter is not ("none" or "console" or "otlp"))
            throw new MicroConfigException(Setting, $"'{exporter}' is not an exporter: use none, console or otlp");
        return builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(service))
            .WithTracing(t =>
            {
                if (exporter == "console") t.AddConsoleExporter();
                if (exporter == "otlp") t.AddOtlpExporter();
            })
            .WithMetrics(m =>
            {
                if (exporter == "console") m.AddConsoleExporter();
                if (exporter == "otlp") m.AddOtlpExporter();
            });
    }
}
