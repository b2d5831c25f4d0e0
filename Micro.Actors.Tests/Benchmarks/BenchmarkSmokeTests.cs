using System.Text.Json;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Benchmarks;

/// <summary>The benchmark runner, one short point of every scenario: it completes and produces numbers (not the figures themselves).</summary>
public sealed class BenchmarkSmokeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"micro-bench-{Guid.NewGuid():N}.json");

    private static string BenchmarksDll() => ProcessRunner.Built("Micro.Actors.Benchmarks", "Micro.Actors.Benchmarks.dll");

    [Fact]
    public async Task Every_scenario_runs_and_produces_numbers()
    {
        using var run = ProcessRunner.Start("dotnet", [BenchmarksDll(), "--smoke", "--json", _json]);
        var exit = await run.WaitForExitAsync(TimeSpan.FromMinutes(3));
        output.WriteLine(string.Join('\n', run.Stdout));
        Assert.True(exit == 0, run.Describe());

        using var points = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var all = points.RootElement.EnumerateArray().ToList();
        string Of(JsonElement p, string name) => p.GetProperty(name).ToString();
        foreach (var system in new[] { "micro", "akka", "grpc", "protoactor" })
        {
            var rpc = all.Single(p => Of(p, "scenario") == "rpc" && Of(p, "system") == system);
            Assert.True(rpc.GetProperty("ops_per_sec").GetDouble() > 0, $"{system}: {rpc}");
            Assert.True(rpc.GetProperty("p99_us").GetDouble() >= rpc.GetProperty("p50_us").GetDouble(), $"{system}: {rpc}");
        }
        foreach (var system in new[] { "micro", "akka" })
        {
            Assert.True(all.Single(p => Of(p, "scenario") == "pubsub" && Of(p, "system") == system).GetProperty("ops_per_sec").GetDouble() > 0);
            Assert.True(all.Single(p => Of(p, "scenario") == "stream" && Of(p, "system") == system).GetProperty("ops_per_sec").GetDouble() > 0);
            Assert.True(all.Single(p => Of(p, "scenario") == "memory" && Of(p, "system") == system).GetProperty("value").GetDouble() > 10);
        }
        Assert.InRange(all.Single(p => Of(p, "scenario") == "join").GetProperty("value").GetDouble(), 0.05, 60);
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3").GetProperty("ops_per_sec").GetDouble() > 0);
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3-registry").GetProperty("value").GetDouble() > 0);
        Assert.Contains(run.Stdout, l => l.Contains("micro/akka ops"));
    }

    public void Dispose() => File.Delete(_json);
}
