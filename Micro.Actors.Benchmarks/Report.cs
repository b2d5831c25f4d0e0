using System.Text.Json;
using System.Text.Json.Serialization;

namespace Micro.Actors.Benchmarks;

/// <summary>The table on stdout, the --json file and the chart.</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public static void Table(IReadOnlyList<Point> points, TextWriter output)
    {
        output.WriteLine($"{"scenario",-22} {"system",-13} {"conc",5} {"ops/s",12} {"p50 µs",9} {"p99 µs",9} {"max µs",9} {"alloc B/op",11}  other");
        var rounds = points.Any(p => p.Round > 1);
        foreach (var p in points)
        {
            var other = p.Value is { } v ? $"{v:0.##} {p.Unit}" : rounds && p.Scenario is "rpc" or "transports" ? $"round {p.Round}" : "";
            if (p.Ran is not null) other = $"{other}  {p.Ran}".TrimStart();
            var throughput = p.OpsPerSec > 0 ? $"{p.OpsPerSec,12:N0} {p.P50Us,9:N0} {p.P99Us,9:N0} {p.MaxUs,9:N0} {p.AllocBytesPerOp,11:N0}" : $"{"",12} {"",9} {"",9} {"",9} {"",11}";
            output.WriteLine($"{p.Scenario,-22} {p.System,-13} {p.Concurrency,5} {throughput}  {other}");
        }
        Ratios(points, output);
    }

    /// <summary>The issue's targets, as same-run ratios (one set per round of RPC points).</summary>
    public static void Ratios(IReadOnlyList<Point> points, TextWriter output)
    {
        double? Ops(string system, string scenario, int c) => Find(system, scenario, c)?.OpsPerSec;
        Point? Find(string system, string scenario, int c, int round = 1) =>
            points.FirstOrDefault(p => p.System == system && p.Scenario == scenario && p.Concurrency == c && p.Round == round);
        output.WriteLine();
        output.WriteLine("ratios (target):");
        var rpc = points.Where(p => p.Scenario == "rpc").ToList();
        var rounds = rpc.Select(p => p.Round).Distinct().Order().ToList();
        foreach (var round in rounds)
            foreach (var c in rpc.Select(p => p.Concurrency).Distinct().Order())
            {
                var at = $"rpc c={c,-3}" + (rounds.Count > 1 ? $" round {round}" : "");
                if (Find("micro", "rpc", c, round) is not { } m) continue;
                if (Find("akka", "rpc", c, round) is { } a)
                    output.WriteLine($"  {at} micro/akka ops {m.OpsPerSec / a.OpsPerSec:0.00} ({(c >= 128 ? ">= 2" : c >= 16 ? ">= 1.5" : ">= 0.9")})   " +
                        $"p50 {m.P50Us / a.P50Us:0.00}{(c == 1 ? " (<= 1)" : "")}   p99 {m.P99Us / a.P99Us:0.00} (<= 1.2)");
                if (Find("grpc", "rpc", c, round) is { } g)
                    output.WriteLine($"  {at} micro/grpc ops {m.OpsPerSec / g.OpsPerSec:0.00} (>= 1)   p50 {m.P50Us / g.P50Us:0.00}");
                if (Find("protoactor", "rpc", c, round) is { } pa)
                    output.WriteLine($"  {at} micro/protoactor ops {m.OpsPerSec / pa.OpsPerSec:0.00} (>= {(c == 1 ? "1.3" : "1")})");
                // Every system as a fraction of the machine's floor (a bare TCP echo) in the same round.
                if (Find("floor", "rpc", c, round) is { } f)
                    output.WriteLine($"  {at} of the floor: " + string.Join("   ", rpc.Where(p => p.Round == round && p.Concurrency == c && p.System != "floor")
                        .Select(p => $"{p.System} {p.OpsPerSec / f.OpsPerSec:0.00}")) + $"   micro p50/floor p50 {m.P50Us / f.P50Us:0.0}{(c == 1 ? " (<= 2.5)" : "")}");
            }
        // Each transport against plain socket, at the same concurrency and round (points come in the rotated order they were taken).
        var transports = points.Where(p => p.Scenario == "transports").ToList();
        var transportRounds = transports.Select(p => p.Round).Distinct().Count();
        foreach (var t in transports.Where(p => p.System != Transports.Socket).OrderBy(p => p.Round).ThenBy(p => p.Concurrency).ThenBy(p => Array.IndexOf(Transports.All, p.System)))
            if (Find(Transports.Socket, "transports", t.Concurrency, t.Round) is { } socket)
                output.WriteLine($"  transports c={t.Concurrency,-3}{(transportRounds > 1 ? $" round {t.Round}" : "")} {t.System}/socket ops {t.OpsPerSec / socket.OpsPerSec:0.00}   " +
                    $"p50 {t.P50Us / socket.P50Us:0.00}   p99 {t.P99Us / socket.P99Us:0.00}");
        if (Ops("micro", "pubsub", 1) is { } ms && Ops("akka", "pubsub", 1) is { } am)
            output.WriteLine($"  pubsub micro/mediator {ms / am:0.00} (>= 0.9)");
        if (Ops("micro", "stream", 1) is { } mst && Ops("akka", "stream", 1) is { } ast)
            output.WriteLine($"  stream micro/akka stream ref {mst / ast:0.00}");
        var mem = points.Where(p => p.Scenario == "memory").ToDictionary(p => p.System, p => p.Value ?? 0);
        if (mem.TryGetValue("micro", out var mm) && mem.TryGetValue("akka", out var am2) && am2 > 0)
            output.WriteLine($"  idle RSS micro/akka {mm / am2:0.00} (<= 1.2)");
    }

    public static void WriteJson(IReadOnlyList<Point> points, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(points, Json));

    /// <summary>Round trips per second by concurrency, one line per system.</summary>
    public static void Chart(IReadOnlyList<Point> points, string path)
    {
        var plot = new ScottPlot.Plot();
        var rpc = points.Where(p => p.Scenario == "rpc").ToList();
        var levels = rpc.Select(p => p.Concurrency).Distinct().Order().ToArray();
        foreach (var system in rpc.Select(p => p.System).Distinct())
        {
            // With several rounds, the chart shows the first.
            var ys = levels.Select(c => rpc.FirstOrDefault(p => p.System == system && p.Concurrency == c && p.Round == 1)?.OpsPerSec ?? double.NaN).ToArray();
            var line = plot.Add.Scatter(Enumerable.Range(0, levels.Length).Select(i => (double)i).ToArray(), ys);
            line.LegendText = system;
            line.LineWidth = 2;
            line.MarkerSize = 8;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, levels.Length).Select(i => (double)i).ToArray(), levels.Select(c => $"{c} in flight").ToArray());
        plot.Axes.Left.Label.Text = "round trips / s";
        plot.Title("Request/reply across two processes on 127.0.0.1 (closed loop)");
        plot.Axes.SetLimitsY(0, rpc.Count == 0 ? 1 : rpc.Max(p => p.OpsPerSec) * 1.1);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, 800, 450);
        else plot.SavePng(path, 800, 450);
    }
}
