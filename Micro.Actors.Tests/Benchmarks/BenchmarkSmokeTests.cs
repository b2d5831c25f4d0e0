using System.Text.Json;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Benchmarks;

/// <summary>The benchmark runner, one short point of every scenario: it completes and produces numbers (not the figures themselves).</summary>
[Collection(AloneLane.Name)]
public sealed class BenchmarkSmokeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _rpcJson = Path.Combine(Path.GetTempPath(), $"micro-bench-{Guid.NewGuid():N}.json");
    private readonly string _eventsJson = Path.Combine(Path.GetTempPath(), $"micro-bench-{Guid.NewGuid():N}.json");
    private readonly string _clusterJson = Path.Combine(Path.GetTempPath(), $"micro-bench-{Guid.NewGuid():N}.json");

    private static string BenchmarksDll() => ProcessRunner.Built("Micro.Actors.Benchmarks", "Micro.Actors.Benchmarks.dll");

    [Fact]
    public async Task Every_scenario_runs_and_produces_numbers()
    {
        // Three runners side by side (most of a smoke run is processes starting and joining): the RPC
        // comparison and the gateway's, the event scenarios, the cluster ones. The figures are not the point here.
        using var rpcRun = ProcessRunner.Start("dotnet", [BenchmarksDll(), "--smoke", "--scenario", "rpc", "--scenario", "gateway", "--json", _rpcJson]);
        using var eventsRun = ProcessRunner.Start("dotnet", [BenchmarksDll(), "--smoke", "--json", _eventsJson, "--scenario", "pubsub", "--scenario", "stream"]);
        using var clusterRun = ProcessRunner.Start("dotnet", [BenchmarksDll(), "--smoke", "--json", _clusterJson, "--scenario", "join", "--scenario", "memory", "--scenario", "scale"]);
        ProcessRunner[] runs = [rpcRun, eventsRun, clusterRun];
        var exits = await Task.WhenAll(runs.Select(r => r.WaitForExitAsync(TimeSpan.FromMinutes(3))));
        output.WriteLine(string.Join('\n', runs.SelectMany(r => r.Stdout)));
        for (var i = 0; i < runs.Length; i++) Assert.True(exits[i] == 0, runs[i].Describe());

        var all = new List<JsonElement>();
        foreach (var file in new[] { _rpcJson, _eventsJson, _clusterJson })
        {
            using var points = JsonDocument.Parse(await File.ReadAllTextAsync(file));
            all.AddRange(points.RootElement.EnumerateArray().Select(p => p.Clone()));
        }
        string Of(JsonElement p, string name) => p.GetProperty(name).ToString();
        foreach (var system in new[] { "micro", "akka", "grpc", "protoactor", "floor" })
        {
            var rpc = all.Single(p => Of(p, "scenario") == "rpc" && Of(p, "system") == system);
            Assert.True(rpc.GetProperty("ops_per_sec").GetDouble() > 0, $"{system}: {rpc}");
            Assert.True(rpc.GetProperty("p99_us").GetDouble() >= rpc.GetProperty("p50_us").GetDouble(), $"{system}: {rpc}");
        }
        foreach (var system in new[] { "micro", "gateway", "aspnet" })
            Assert.True(all.Single(p => Of(p, "scenario") == "gateway" && Of(p, "system") == system).GetProperty("ops_per_sec").GetDouble() > 0, system);
        foreach (var system in new[] { "micro", "akka" })
        {
            Assert.True(all.Single(p => Of(p, "scenario") == "pubsub" && Of(p, "system") == system).GetProperty("ops_per_sec").GetDouble() > 0);
            Assert.True(all.Single(p => Of(p, "scenario") == "stream" && Of(p, "system") == system).GetProperty("ops_per_sec").GetDouble() > 0);
            Assert.True(all.Single(p => Of(p, "scenario") == "memory" && Of(p, "system") == system).GetProperty("value").GetDouble() > 10);
        }
        Assert.InRange(all.Single(p => Of(p, "scenario") == "join").GetProperty("value").GetDouble(), 0.05, 60);
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3").GetProperty("ops_per_sec").GetDouble() > 0);
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3-registry").GetProperty("value").GetDouble() > 0);
        // Each of the 3 nodes is a process of its own: its RSS is a whole runtime's, not a share of one.
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3-memory").GetProperty("value").GetDouble() > 10);
        Assert.True(all.Single(p => Of(p, "scenario") == "scale-3-idle-cpu").GetProperty("value").GetDouble() > 0);
        Assert.Contains(rpcRun.Stdout, l => l.Contains("micro/akka ops"));
    }

    public void Dispose()
    {
        File.Delete(_rpcJson);
        File.Delete(_eventsJson);
        File.Delete(_clusterJson);
    }
}
