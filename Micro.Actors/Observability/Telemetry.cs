namespace Micro.Actors.Observability;

/// <summary>
/// Where a node's traces and metrics come from. Every node emits them (its instrumentation is always in
/// place, and costs nothing while nobody listens): subscribe to the <c>ActivitySource</c> <see cref="SourceName"/>
/// and the <c>Meter</c> <see cref="MeterName"/> — with OpenTelemetry, <c>AddMicroInstrumentation()</c>
/// (Micro.Actors.Hosting, namespace Micro.Actors.Hosting.Telemetry) does both, and a hosted node adds them by itself.
/// </summary>
public static class Telemetry
{
    /// <summary>The name of Micro.Actors' <see cref="System.Diagnostics.ActivitySource"/>: client, server, producer and consumer spans.</summary>
    public const string SourceName = "Micro.Actors";

    /// <summary>The name of Micro.Actors' <see cref="System.Diagnostics.Metrics.Meter"/>: call durations, retries, queues, events, members.</summary>
    public const string MeterName = "Micro.Actors";

    internal static readonly string? Version = typeof(Telemetry).Assembly.GetName().Version?.ToString();
}
