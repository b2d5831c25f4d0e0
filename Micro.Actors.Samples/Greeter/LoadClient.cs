using Micro.Actors.Contracts;
using System.Diagnostics;
using HdrHistogram;
using Micro.Actors.Errors;
using Micro.Actors.Client;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Samples.Greeter;

/// <summary>
/// greeter-client in load mode: C calls in flight for D seconds (or N calls), then one summary line
/// <c>calls=N ok=N failed=N p50_ms=… p99_ms=… max_ms=… peak_ws_mb=…</c> (the process's peak working set).
/// Exits 0 only if every call succeeded.
/// Ctrl+C or SIGTERM ends the run early: the calls in flight finish, and the summary still prints.
/// </summary>
public static class LoadClient
{
    public static async Task<int> Run(Action<MicroServiceOptions> node, int concurrency, double? seconds, int count, string who, CancellationToken ct)
    {
        if (concurrency < 1) return Program.Fail(Program.BadInput, "--concurrency must be 1 or more");
        if (seconds is <= 0) return Program.Fail(Program.BadInput, "--duration must be more than 0 seconds");
        using var host = SampleHost.Client("greeter-client", node); // waits (micro.start-timeout) until the node is Up and ready
        await host.StartAsync(ct).ConfigureAwait(false);
        var greeter = host.Services.GetRequiredService<IClient>().For<IGreeter>();
        // The host hears SIGTERM and Ctrl+C (its console lifetime): either one ends the run.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

        var until = seconds is { } s ? DateTime.UtcNow.AddSeconds(s) : DateTime.MaxValue;
        var remaining = seconds is null ? count : int.MaxValue;
        // Microseconds, 1 µs to 1 min, 3 significant digits: constant memory however long the run.
        var histogram = new LongConcurrentHistogram(1, 60_000_000, 3);
        var failed = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // Progress for a person watching a long run: one stderr line a second.
        using var done = new CancellationTokenSource();
        var progress = Task.Run(async () =>
        {
            using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (await tick.WaitForNextTickAsync(done.Token).ConfigureAwait(false))
                Console.Error.WriteLine($"progress: calls={histogram.TotalCount} failed={Volatile.Read(ref failed)} ws_mb={Environment.WorkingSet / (1024 * 1024)}");
        });
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            while (DateTime.UtcNow < until && Interlocked.Decrement(ref remaining) >= 0 && !stop.IsCancellationRequested)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    // Not cancelled by a stop request: the call in flight ends by itself.
                    await greeter.Hello(new HelloRequest(who), CancellationToken.None).ConfigureAwait(false);
                    histogram.RecordValue(Math.Max(1, watch.Elapsed.Ticks / 10));
                }
                catch (MicroException e)
                {
                    Interlocked.Increment(ref failed);
                    histogram.RecordValue(Math.Max(1, watch.Elapsed.Ticks / 10));
                    if (errors.Count < 10) errors.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {e.Error.Code} {e.Error.Detail}");
                }
            }
        })).ConfigureAwait(false);

        await done.CancelAsync().ConfigureAwait(false);
        try { await progress.ConfigureAwait(false); } catch (OperationCanceledException) { }
        foreach (var e in errors) Console.Error.WriteLine($"failed call: {e}");
        var calls = histogram.TotalCount;
        double Ms(long micros) => micros / 1000.0;
        var (p50, p99, max) = calls == 0 ? (0L, 0L, 0L) : (histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99), histogram.GetMaxValue());
        Console.WriteLine($"calls={calls} ok={calls - failed} failed={failed} p50_ms={Ms(p50):0.###} p99_ms={Ms(p99):0.###} max_ms={Ms(max):0.###} peak_ws_mb={Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)}");
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return failed == 0 && calls > 0 ? Program.Ok : Program.CallFailed;
    }
}
