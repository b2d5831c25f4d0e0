using System.Diagnostics;
using Micro.Actors.Errors;
using Micro.Actors.Service;

namespace Micro.Actors.Samples.Greeter;

/// <summary>
/// greeter-client in load mode: C calls in flight for D seconds (or N calls), then one summary line
/// <c>calls=N ok=N failed=N p50_ms=… p99_ms=… max_ms=…</c>. Exits 0 only if every call succeeded.
/// </summary>
public static class LoadClient
{
    public static async Task<int> Run(Action<MicroServiceOptions> node, int concurrency, double? seconds, int count, string who, CancellationToken ct)
    {
        if (concurrency < 1) return Program.Fail(Program.BadInput, "--concurrency must be 1 or more");
        if (seconds is <= 0) return Program.Fail(Program.BadInput, "--duration must be more than 0 seconds");
        await using var client = MicroService.CreateClient(node);
        await client.StartAsync(ct).ConfigureAwait(false);
        await client.WhenReady.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);

        var until = seconds is { } s ? DateTime.UtcNow.AddSeconds(s) : DateTime.MaxValue;
        var remaining = seconds is null ? count : int.MaxValue;
        var latencies = new List<double>[concurrency];
        var failed = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = [];
            while (DateTime.UtcNow < until && Interlocked.Decrement(ref remaining) >= 0 && !ct.IsCancellationRequested)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    await client.Client.CallAsync<HelloReply>(GreeterService.Name, "Greeter.Hello", new HelloRequest(who), cancellationToken: ct).ConfigureAwait(false);
                    mine.Add(watch.Elapsed.TotalMilliseconds);
                }
                catch (MicroException e)
                {
                    Interlocked.Increment(ref failed);
                    mine.Add(watch.Elapsed.TotalMilliseconds);
                    if (errors.Count < 10) errors.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {e.Error.Code} {e.Error.Detail}");
                }
            }
        })).ConfigureAwait(false);

        var all = latencies.SelectMany(l => l).Order().ToList();
        foreach (var e in errors) Console.Error.WriteLine($"failed call: {e}");
        double P(double q) => all.Count == 0 ? 0 : all[Math.Min(all.Count - 1, (int)Math.Ceiling(q * all.Count) - 1)];
        Console.WriteLine($"calls={all.Count} ok={all.Count - failed} failed={failed} p50_ms={P(0.50):0.###} p99_ms={P(0.99):0.###} max_ms={(all.Count == 0 ? 0 : all[^1]):0.###}");
        return failed == 0 && all.Count > 0 ? Program.Ok : Program.CallFailed;
    }
}
