using System.Diagnostics;
using Micro.Actors.Observability;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Micro.Actors.Benchmarks;

/// <summary>
/// What listens to Micro.Actors' instrumentation during a run, in both the runner and its server processes
/// (they inherit <see cref="Variable"/>): nothing, the OpenTelemetry SDK's metrics (read every second), or its
/// traces with every call sampled — exported to nowhere, so a point measures the instrumentation and the SDK's
/// own work, not an exporter's network.
/// </summary>
public static class BenchTelemetry
{
    public const string Variable = "MICRO_BENCH_TELEMETRY";
    public static readonly string[] Modes = ["none", "metrics", "traces"];

    public static string Mode => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } mode ? mode : "none";

    /// <summary>Turns the mode on for this process (and the server processes it starts from now on).</summary>
    public static IDisposable? Start(string? mode = null)
    {
        mode ??= Mode;
        Environment.SetEnvironmentVariable(Variable, mode);
        return mode switch
        {
            "metrics" => Sdk.CreateMeterProviderBuilder().AddMeter(Telemetry.MeterName)
                .AddReader(new PeriodicExportingMetricReader(new Discard<Metric>(), exportIntervalMilliseconds: 1000)).Build(),
            "traces" => Sdk.CreateTracerProviderBuilder().AddSource(Telemetry.SourceName).SetSampler(new AlwaysOnSampler())
                .AddProcessor(new BatchActivityExportProcessor(new Discard<Activity>())).Build(),
            _ => null,
        };
    }

    /// <summary>An exporter that takes every batch and keeps nothing.</summary>
    private sealed class Discard<T> : BaseExporter<T> where T : class
    {
        public override ExportResult Export(in Batch<T> batch)
        {
            foreach (var _ in batch) { }
            return ExportResult.Success;
        }
    }
}
