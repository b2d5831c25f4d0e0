using System.CommandLine;
using System.Diagnostics;
using Micro.Actors.Benchmarks;

// Micro.Actors.Benchmarks: Micro.Actors side by side with raw Akka, gRPC and Proto.Actor, in one run.
//   dotnet run -c Release --project Micro.Actors.Benchmarks -- [--quick] [--json points.json] [--chart rpc.png]
//   dotnet run -c Release --project Micro.Actors.Benchmarks -- hotpath     (BenchmarkDotNet micro-benchmarks)

var duration = new Option<double>("--duration") { Description = "Seconds per measured point", DefaultValueFactory = _ => 10 };
var quick = new Option<bool>("--quick") { Description = "3 s points and 1.5 s warm-ups" };
var smoke = new Option<bool>("--smoke") { Description = "One short point of every scenario (the test suite runs this)" };
var json = new Option<string?>("--json") { Description = "Write every point to this JSON file" };
var chart = new Option<string?>("--chart") { Description = "Write a chart of RPC round trips/s by concurrency (.png or .svg)" };
var scenarios = new Option<string[]>("--scenario") { Description = "rpc, pubsub, stream, join, memory, scale (repeatable; default all); typed (the typed client against the string call, paired), gateway (HTTP through the gateway against in-cluster calls and a plain endpoint), durable (events on DistributedPubSub against NATS JetStream, acked and fire-and-forget) and transports (Micro.Actors RPC over socket, socket+tls, dot-netty and dot-netty+tls, interleaved) when asked", Arity = ArgumentArity.ZeroOrMore };
var systems = new Option<string[]>("--system") { Description = "micro, micro-typed (the same calls through a contract's typed client), akka, grpc, protoactor, floor (a bare TCP echo: the machine's floor) (repeatable; default all but micro-typed)", Arity = ArgumentArity.ZeroOrMore };
var concurrency = new Option<int[]>("--concurrency") { Description = "Calls in flight (repeatable; default 1, 16, 128)", Arity = ArgumentArity.ZeroOrMore };
var rounds = new Option<int>("--rounds") { Description = "RPC and transports: measure every system at every concurrency this many times, interleaved", DefaultValueFactory = _ => 1 };
var telemetry = new Option<string>("--telemetry") { Description = "What listens to the instrumentation, here and in the servers: none, metrics, traces (100% sampled)", DefaultValueFactory = _ => "none" };
telemetry.AcceptOnlyFromAmong(BenchTelemetry.Modes);
var scale = new Option<int[]>("--nodes") { Description = "Cluster sizes of the scale scenario (repeatable; default 5, 10, 20)", Arity = ArgumentArity.ZeroOrMore };

var root = new RootCommand("Micro.Actors benchmarks: every point runs the server side in its own process on 127.0.0.1")
{
    duration, quick, smoke, json, chart, scenarios, systems, concurrency, rounds, scale, telemetry,
};
root.SetAction(async (r, _) =>
{
    var isSmoke = r.GetValue(smoke);
    // A smoke point only has to produce numbers: a fraction of a second each.
    var seconds = isSmoke ? 0.3 : r.GetValue(quick) ? 3 : r.GetValue(duration);
    var options = new RunOptions(
        TimeSpan.FromSeconds(seconds),
        TimeSpan.FromSeconds(isSmoke ? 0.2 : r.GetValue(quick) ? 1.5 : 3),
        r.GetValue(concurrency) is { Length: > 0 } c ? c : isSmoke ? [16] : [1, 16, 128],
        r.GetValue(systems) is { Length: > 0 } s ? s : ["micro", "akka", "grpc", "protoactor", "floor"],
        r.GetValue(scale) is { Length: > 0 } n ? n : isSmoke ? [3] : [5, 10, 20],
        JoinSamples: isSmoke ? 1 : 3,
        Rounds: Math.Max(1, r.GetValue(rounds)));
    var chosen = r.GetValue(scenarios) is { Length: > 0 } sc ? sc : ["rpc", "pubsub", "stream", "join", "memory", "scale"];
    var unknown = chosen.Except(["rpc", "pubsub", "stream", "join", "memory", "scale", "typed", "gateway", "durable", "transports"]).ToList();
    if (unknown.Count > 0)
    {
        Console.Error.WriteLine($"error: no scenario {string.Join(", ", unknown)}; use rpc, pubsub, stream, join, memory, scale, typed, gateway, durable or transports");
        return 2;
    }
    using var listening = BenchTelemetry.Start(r.GetValue(telemetry));
    var watch = Stopwatch.StartNew();
    void Progress(string what) => Console.Error.WriteLine($"[{watch.Elapsed:mm\\:ss}] {what}");
    var points = new List<Point>();
    foreach (var scenario in chosen)
    {
        points.AddRange(scenario switch
        {
            "rpc" => await Scenarios.RpcAsync(options, Progress),
            "pubsub" => await Scenarios.PubSubAsync(options, Progress),
            "stream" => await Scenarios.StreamAsync(options, Progress),
            "join" => await Scenarios.JoinAsync(options, Progress),
            "memory" => await Scenarios.MemoryAsync(options, Progress),
            "typed" => await Scenarios.TypedAsync(options, Progress),
            "gateway" => await Scenarios.GatewayAsync(options, Progress),
            "durable" => await Scenarios.DurableAsync(options, Progress),
            "transports" => await Scenarios.TransportsAsync(options, Progress),
            _ => await Scenarios.ScaleAsync(options, Progress),
        });
    }
    Progress("done");
    Report.Table(points, Console.Out);
    if (r.GetValue(json) is { } path) Report.WriteJson(points, path);
    if (r.GetValue(chart) is { } png) Report.Chart(points, png);
    return 0;
});

var kind = new Argument<string>("kind") { Description = "micro, akka, micro-stream, akka-stream, micro-sub, akka-sub, micro-idle, akka-idle, grpc, proto, gateway" };
var port = new Option<int>("--port") { Required = true };
var seed = new Option<string?>("--seed");
var transport = new Option<string?>("--transport") { Description = "micro: how its node talks (default micro.transport's)" };
transport.AcceptOnlyFromAmong(Transports.All);
var serve = new Command("serve", "Run one server side (used by the runner)") { kind, port, seed, transport };
serve.Hidden = true;
serve.SetAction(async (r, _) =>
{
    using var listening = BenchTelemetry.Start();
    await Servers.ServeAsync(r.GetValue(kind)!, r.GetValue(port), r.GetValue(seed), r.GetValue(transport));
});
root.Subcommands.Add(serve);

var hotpath = new Command("hotpath", "BenchmarkDotNet micro-benchmarks of the hot-path pieces; the rest of the line goes to BenchmarkDotNet");
hotpath.TreatUnmatchedTokensAsErrors = false;
hotpath.SetAction(r => { BenchmarkDotNet.Running.BenchmarkRunner.Run<HotPath>(args: r.UnmatchedTokens.ToArray()); return 0; });
root.Subcommands.Add(hotpath);

return await root.Parse(args).InvokeAsync();
