using System.Diagnostics;
using HdrHistogram;

namespace Micro.Actors.Benchmarks;

/// <summary>One measured point, as written to --json; <c>Ran</c> is the transport its nodes ran, where a scenario compares them.</summary>
public sealed record Point(string System, string Scenario, int Concurrency, double OpsPerSec, double P50Us, double P99Us, double MaxUs,
    double AllocBytesPerOp, double? Value = null, string? Unit = null, int Round = 1, string? Ran = null);

/// <summary>
/// Closed-loop load: <c>concurrency</c> callers, each starting its next call when the last one
/// answers. Latencies go into an HdrHistogram (microsecond resolution); allocations are this (the
/// calling) process's, per call.
/// </summary>
public static class LoadRunner
{
    public static async Task<Point> RunAsync(string system, string scenario, int concurrency, Func<Task> call, TimeSpan warmup, TimeSpan duration)
    {
        await LoopAsync(concurrency, call, warmup, histogram: null);
        GC.Collect();
        var histogram = new LongConcurrentHistogram(1, 60_000_000, 3);
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        var calls = await LoopAsync(concurrency, call, duration, histogram);
        var elapsed = watch.Elapsed.TotalSeconds;
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        return new Point(system, scenario, concurrency, calls / elapsed, histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99),
            histogram.GetMaxValue(), calls == 0 ? 0 : (double)bytes / calls);
    }

    private static async Task<long> LoopAsync(int concurrency, Func<Task> call, TimeSpan duration, LongConcurrentHistogram? histogram)
    {
        long calls = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var ticksPerMicro = Stopwatch.Frequency / 1_000_000.0;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long mine = 0;
            while (true)
            {
                var start = Stopwatch.GetTimestamp();
                if (start >= end) break;
                await call().ConfigureAwait(false);
                histogram?.RecordValue(Math.Max(1, (long)((Stopwatch.GetTimestamp() - start) / ticksPerMicro)));
                mine++;
            }
            Interlocked.Add(ref calls, mine);
        })).ToList();
        await Task.WhenAll(workers);
        return calls;
    }
}
