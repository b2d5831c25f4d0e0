using Micro.Actors.Observability;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Micro.Actors.Hosting.Telemetry;

/// <summary>
/// Micro.Actors' traces and metrics into OpenTelemetry: its <c>ActivitySource</c> and its <c>Meter</c>, both
/// named <see cref="Observability.Telemetry.SourceName"/>. A hosted node (<c>AddMicroService</c>,
/// <c>AddMicroClient</c>) adds them by itself to an OpenTelemetry set up with <c>services.AddOpenTelemetry()</c>;
/// these are for providers built by hand (<c>Sdk.CreateTracerProviderBuilder()</c>).
/// </summary>
public static class MicroInstrumentation
{
    /// <summary>Client, server, producer and consumer spans of every Micro.Actors node in this process.</summary>
    public static TracerProviderBuilder AddMicroInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(Observability.Telemetry.SourceName);
    }

    /// <summary>Call durations, retries, failovers, queues, rejections, events and members of every Micro.Actors node in this process.</summary>
    public static MeterProviderBuilder AddMicroInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(Observability.Telemetry.MeterName);
    }
}
