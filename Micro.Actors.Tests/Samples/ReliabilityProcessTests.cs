using System.Text.RegularExpressions;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Samples;

/// <summary>Real greeter processes crashing and restarting under a real client's load.</summary>
[Collection(ProcessesLane.Name)]
public sealed class ReliabilityProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    private static string[] GreeterArgs(int port, params int[] seeds) =>
        ["greeter", "--port", $"{port}", .. seeds.SelectMany(s => new[] { "--seed", $"127.0.0.1:{s}" })];

    private static (int Calls, int Ok, int Failed, double P99, double Max) Summary(ProcessRunner client)
    {
        var line = client.Stdout.Single(l => l.StartsWith("calls="));
        var m = Regex.Match(line, @"calls=(\d+) ok=(\d+) failed=(\d+) p50_ms=[\d.]+ p99_ms=([\d.]+) max_ms=([\d.]+)");
        Assert.True(m.Success, line);
        return (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value),
            double.Parse(m.Groups[4].Value), double.Parse(m.Groups[5].Value));
    }

    [Fact]
    public async Task A_greeter_killed_mid_run_costs_no_call_and_no_call_outlives_its_deadline()
    {
        var ports = new[] { TestCluster.FreePort(), TestCluster.FreePort(), TestCluster.FreePort() };
        using var g1 = ProcessRunner.StartSample(GreeterArgs(ports[0]));
        await g1.WaitForLogAsync("is Up in cluster", Startup);
        using var g2 = ProcessRunner.StartSample(GreeterArgs(ports[1], ports[0]));
        using var g3 = ProcessRunner.StartSample(GreeterArgs(ports[2], ports[0]));
        await g2.WaitForLogAsync("is Up in cluster", Startup);
        await g3.WaitForLogAsync("is Up in cluster", Startup);

        // The load runs until the client has given up the killed node (SIGTERM ends it with its summary).
        using var client = ProcessRunner.StartSample("greeter-client", "--concurrency", "8", "--duration", "120", "--seed", $"127.0.0.1:{ports[0]}");
        foreach (var p in ports) await client.WaitForLogAsync($@"Registry: greeter \S+ at 127\.0\.0\.1:{p} is Up", Startup);
        await client.WaitForLogAsync(@"progress: calls=[1-9]", Startup); // calls are flowing to all three
        var killed = DateTime.UtcNow;
        g3.Kill();
        await g3.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(g3.IsGone(), "the killed greeter is still running");

        // The client's router says when it stopped routing to the lost node, and when the last call went there.
        var gone = $@"node 127\.0\.0\.1:{ports[2]} .*no more calls go to it";
        await client.WaitForLogAsync(gone, TimeSpan.FromSeconds(15));
        // Two more progress lines (a second or more) of calls on the two that are left.
        var seen = client.Stderr.Count(l => l.Contains("progress: calls="));
        await client.WaitForLogAsync("progress: calls=", seen + 2, TimeSpan.FromSeconds(15));
        client.Terminate();
        Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, client.Describe());
        var s = Summary(client);
        var lost = client.Stderr.First(l => Regex.IsMatch(l, gone));
        var last = Regex.Match(lost, @"the last call went to it at (\d\d:\d\d:\d\d\.\d{3}) UTC");
        Assert.True(last.Success, lost);
        var lastCall = killed.Date + TimeSpan.ParseExact(last.Groups[1].Value, @"hh\:mm\:ss\.fff", null);
        if (lastCall < killed.AddHours(-12)) lastCall = lastCall.AddDays(1); // across midnight
        var afterKill = (lastCall - killed).TotalMilliseconds;
        output.WriteLine($"kill -9 of one of three greeters under 8 concurrent calls: {client.Stdout.Single(l => l.StartsWith("calls="))}; " +
            $"last call routed to the dead node {afterKill:0} ms after the kill; worst call {s.Max:0} ms");
        Assert.Equal(0, s.Failed);
        Assert.True(afterKill < 1_500, $"calls went to the dead node until {afterKill:0} ms after the kill");
        Assert.True(s.Calls > 100, $"only {s.Calls} calls");
        Assert.True(s.Max < 5_000, $"a call took {s.Max} ms: longer than its 5 s deadline");
    }

    [Fact]
    public async Task A_greeter_frozen_with_SIGSTOP_under_128_calls_in_flight_costs_no_call_holds_the_callers_memory_and_recovers_after_SIGCONT()
    {
        var ports = new[] { TestCluster.FreePort(), TestCluster.FreePort() };
        using var a = ProcessRunner.StartSample(GreeterArgs(ports[0]));
        await a.WaitForLogAsync("is Up in cluster", Startup);
        using var b = ProcessRunner.StartSample(GreeterArgs(ports[1], ports[0]));
        await b.WaitForLogAsync("is Up in cluster", Startup);

        // 60 KiB requests: 128 in flight are 7.5 MiB, more than the kernel's buffers hold for the frozen node,
        // so the rest fill its connection past the caller's 1 MiB send budget.
        var budget = new Dictionary<string, string> { ["Micro__Socket__SendBudget"] = "1MiB" };
        using var client = ProcessRunner.StartSample(budget, "greeter-client", "--concurrency", "128", "--duration", "120",
            "--name", new string('x', 60 * 1024), "--seed", $"127.0.0.1:{ports[0]}");
        foreach (var p in ports) await client.WaitForLogAsync($@"Registry: greeter \S+ at 127\.0\.0\.1:{p} is Up", Startup);
        await client.WaitForLogAsync(@"progress: calls=[1-9]", Startup);
        await client.WaitForLogAsync("progress: calls=", Progress(client) + 2, Startup); // warmed up
        var before = WorkingSetMb(client);

        b.Signal("STOP");
        await Eventually.TrueAsync(() => b.State == "T", TimeSpan.FromSeconds(5), "the greeter stopped");
        var frozen = System.Diagnostics.Stopwatch.StartNew();
        await client.WaitForLogAsync($@"Registry: greeter at 127\.0\.0\.1:{ports[1]} is Unreachable", TimeSpan.FromSeconds(15));
        await client.WaitForLogAsync("progress: calls=", Progress(client) + 3, TimeSpan.FromSeconds(15)); // calls go on, on a
        output.WriteLine($"frozen for {frozen.Elapsed.TotalSeconds:0.0} s; working set {before} MB before, {WorkingSetMb(client)} MB now");

        b.Signal("CONT");
        // Within the split brain resolver's 20 s it is reachable again; later it would be downed. Either ends it.
        await client.WaitForLogAsync($@"Registry: greeter at 127\.0\.0\.1:{ports[1]} is (Up|gone)", TimeSpan.FromSeconds(40));
        await client.WaitForLogAsync("progress: calls=", Progress(client) + 2, TimeSpan.FromSeconds(15));
        client.Terminate();
        Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, client.Describe());

        var line = client.Stdout.Single(l => l.StartsWith("calls="));
        var s = Summary(client);
        var peak = int.Parse(Regex.Match(line, @"peak_ws_mb=(\d+)").Groups[1].Value);
        output.WriteLine($"SIGSTOP of one of two greeters under 128 calls of 60 KiB in flight: {line}; working set {before} MB before the freeze");
        output.WriteLine(string.Join("\n", client.Stderr.Where(l => l.Contains("send-budget") || l.Contains("Registry: greeter at"))));
        Assert.True(b.IsGone() || b.State != "T", "the greeter is still stopped after SIGCONT");
        Assert.Equal(0, s.Failed);
        Assert.True(s.Max < 5_000, $"a call took {s.Max} ms: longer than its 5 s deadline");
        // The caller's memory: its peak stays within 150 MB of what it used before the freeze.
        Assert.True(peak - before < 150, $"the caller's working set went from {before} MB to a peak of {peak} MB");

        static int Progress(ProcessRunner p) => p.Stderr.Count(l => l.Contains("progress: calls="));
        static int WorkingSetMb(ProcessRunner p) =>
            int.Parse(Regex.Match(p.Stderr.Last(l => l.Contains("progress: calls=")), @"ws_mb=(\d+)").Groups[1].Value);
    }

    [Fact]
    public async Task The_first_seed_killed_and_restarted_on_its_port_rejoins_the_running_cluster()
    {
        var (p1, p2) = (TestCluster.FreePort(), TestCluster.FreePort());
        var seed = ProcessRunner.StartSample(GreeterArgs(p1));
        try
        {
            await seed.WaitForLogAsync("is Up in cluster", Startup);
            using var other = ProcessRunner.StartSample(GreeterArgs(p2, p1, p2));
            await other.WaitForLogAsync("is Up in cluster", Startup);

            seed.Kill();
            await seed.WaitForExitAsync(TimeSpan.FromSeconds(10));
            seed.Dispose();
            // Same host:port, both seeds listed: it finds the running cluster through the other node
            // (rather than starting a new one), and its old incarnation is replaced.
            var restarted = DateTime.UtcNow;
            seed = ProcessRunner.StartSample(GreeterArgs(p1, p1, p2));
            await seed.WaitForLogAsync("is Up in cluster", Startup);
            output.WriteLine($"the killed seed was Up again {(DateTime.UtcNow - restarted).TotalSeconds:0.0} s after its restart");

            using var client = ProcessRunner.StartSample("greeter-client", "--count", "30", "--seed", $"127.0.0.1:{p2}");
            Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, client.Describe());
            Assert.Contains(client.Stdout, l => l.EndsWith($":{p1}"));
            Assert.Contains(client.Stdout, l => l.EndsWith($":{p2}"));
        }
        finally
        {
            seed.Dispose();
        }
    }

    [Fact]
    public async Task A_rolling_restart_with_SIGTERM_under_load_has_zero_failed_calls()
    {
        var ports = new[] { TestCluster.FreePort(), TestCluster.FreePort(), TestCluster.FreePort() };
        // Every greeter lists all three as seeds, so any one of them can restart and rejoin.
        var greeters = ports.Select(p => ProcessRunner.StartSample(GreeterArgs(p, ports))).ToArray();
        try
        {
            foreach (var g in greeters) await g.WaitForLogAsync("is Up in cluster", Startup);
            // The load runs until the restarts are done (SIGTERM ends it with its summary); 120 s is only a cap.
            using var client = ProcessRunner.StartSample("greeter-client", "--concurrency", "4", "--duration", "120", "--seed", $"127.0.0.1:{ports[0]}");
            string Listed(int port) => $@"Registry: greeter \S+ at 127\.0\.0\.1:{port} is Up";
            foreach (var p in ports) await client.WaitForLogAsync(Listed(p), Startup);
            await client.WaitForLogAsync(@"progress: calls=[1-9]", Startup);

            var watch = System.Diagnostics.Stopwatch.StartNew();
            for (var i = greeters.Length - 1; i >= 0; i--)
            {
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: SIGTERM to the greeter on {ports[i]}");
                greeters[i].Terminate();
                Assert.Equal(0, await greeters[i].WaitForExitAsync(TimeSpan.FromSeconds(30)));
                greeters[i].Dispose();
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: it has exited");
                greeters[i] = ProcessRunner.StartSample(GreeterArgs(ports[i], ports));
                await greeters[i].WaitForLogAsync("is Up in cluster", Startup);
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: its new incarnation is Up");
                // The client takes the new incarnation into its selection before the next greeter goes.
                await client.WaitForLogAsync(Listed(ports[i]), 2, Startup);
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: the client calls its new incarnation");
            }

            client.Terminate();
            Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, client.Describe());
            output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: the client has stopped");
            var s = Summary(client);
            output.WriteLine($"rolling restart of three greeters under 4 concurrent calls: {client.Stdout.Single(l => l.StartsWith("calls="))}");
            Assert.Equal(0, s.Failed);
            Assert.True(s.Calls > 100, $"only {s.Calls} calls");
        }
        finally
        {
            foreach (var g in greeters) g.Dispose();
        }
    }
}
