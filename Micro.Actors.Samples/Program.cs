using System.CommandLine;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Broker;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Samples.PubSub;
using Micro.Actors.Service;

namespace Micro.Actors.Samples;

/// <summary>
/// The samples, one executable. No arguments: an embedded demo on one local node.
/// Output for people and scripts goes to stdout; logs go to stderr.
/// </summary>
public static class Program
{
    /// <summary>Exit codes.</summary>
    public const int Ok = 0, CallFailed = 1, BadInput = 2;

    public static async Task<int> Main(string[] args)
    {
        var host = new Option<string?>("--host") { Description = "Address to listen on (default 127.0.0.1, or MICRO_HOST)" };
        var port = new Option<int?>("--port") { Description = "Port to listen on (0 takes any free port)" };
        var seeds = new Option<string[]>("--seed") { Description = "host:port of a node to join through (repeatable; or MICRO_SEED_NODES)", Arity = ArgumentArity.ZeroOrMore };
        var count = new Option<int>("--count") { Description = "How many calls to make", DefaultValueFactory = _ => 10 };
        var name = new Option<string>("--name") { Description = "Who to greet", DefaultValueFactory = _ => "Ann" };

        var greeter = new Command("greeter", "Run the greeter service until Ctrl+C or SIGTERM (default port 4053)") { host, port, seeds };
        greeter.SetAction((r, ct) => Guard(() => RunGreeter(Node(r, host, port, seeds, 4053), ct)));

        var concurrency = new Option<int?>("--concurrency") { Description = "Calls in flight at once (load mode: prints a summary line instead of one line per reply)" };
        var duration = new Option<double?>("--duration") { Description = "Seconds to keep calling (load mode), instead of --count calls" };
        var client = new Command("greeter-client", "Join the cluster, call Greeter.Hello N times, print one line per reply (default port 0)") { host, port, seeds, count, name, concurrency, duration };
        client.SetAction((r, ct) => Guard(() => r.GetValue(concurrency) is null && r.GetValue(duration) is null
            ? RunClient(Node(r, host, port, seeds, 0), r.GetValue(count), r.GetValue(name)!, ct)
            : LoadClient.Run(Node(r, host, port, seeds, 0), r.GetValue(concurrency) ?? 1, r.GetValue(duration), r.GetValue(count), r.GetValue(name)!, ct)));

        var topic = new Option<string>("--topic") { Description = "Topic to subscribe or publish to", Required = true };
        var queue = new Option<string?>("--queue") { Description = "Queue group: each event goes to one member of the group" };
        var wait = new Option<int>("--wait") { Description = "Seconds to wait for the cluster and for subscribers", DefaultValueFactory = _ => 30 };
        var subscriber = new Command("subscriber", "Subscribe to a topic and print one line per event (default port 4053)") { topic, queue, host, port, seeds };
        subscriber.SetAction((r, ct) => Guard(() => PubSubSamples.RunSubscriber(Node(r, host, port, seeds, 4053), r.GetValue(topic)!, r.GetValue(queue), ct)));
        var publisher = new Command("publisher", "Wait until a topic has subscribers, publish events 1..N, exit (default port 0)") { topic, count, wait, host, port, seeds };
        publisher.SetAction((r, ct) => Guard(() => PubSubSamples.RunPublisher(Node(r, host, port, seeds, 0), r.GetValue(topic)!, r.GetValue(count), TimeSpan.FromSeconds(r.GetValue(wait)), ct)));

        var root = new RootCommand("Micro.Actors samples. With no command: a demo on one local node.") { greeter, client, subscriber, publisher };
        root.SetAction((_, ct) => Guard(() => RunDemo(ct)));
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    private static Action<MicroServiceOptions> Node(ParseResult r, Option<string?> host, Option<int?> port, Option<string[]> seeds, int defaultPort) => o =>
    {
        o.Host = r.GetValue(host);
        o.Port = r.GetValue(port) ?? (Environment.GetEnvironmentVariable("MICRO_PORT") is { Length: > 0 } ? null : defaultPort);
        o.SeedNodes.AddRange(r.GetValue(seeds) ?? []);
    };

    private static async Task<int> RunGreeter(Action<MicroServiceOptions> node, CancellationToken ct)
    {
        var service = MicroService.Create(GreeterService.Name, o => { o.Version = "1.0.0"; node(o); }).AddGreeter();
        await service.RunAsync(ct).ConfigureAwait(false);
        return Ok;
    }

    private static async Task<int> RunClient(Action<MicroServiceOptions> node, int count, string who, CancellationToken ct)
    {
        if (count < 1) return Fail(BadInput, "--count must be 1 or more");
        await using var client = MicroService.CreateClient(node);
        await client.StartAsync(ct).ConfigureAwait(false);
        for (var i = 1; i <= count; i++)
        {
            var reply = await client.Client.CallAsync<HelloReply>(GreeterService.Name, "Greeter.Hello", new HelloRequest(who), cancellationToken: ct).ConfigureAwait(false);
            Console.WriteLine($"{i}: {reply.Message} from {reply.Node}");
        }
        return Ok;
    }

    private static async Task<int> RunDemo(CancellationToken ct)
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var service = MicroService.Create(GreeterService.Name, o => { o.Version = "1.0.0"; o.Port = 0; })
            .AddGreeter()
            .Subscribe<Tick>("ticks", (t, e) => { received.Enqueue($"event {t.Number} {t.Text} (id {e.Id[..8]})"); return Task.CompletedTask; });
        await service.StartAsync(ct).ConfigureAwait(false);
        Console.WriteLine($"greeter is running at {service.Address} (a one-node cluster)");
        foreach (var who in new[] { "Ann", "Bob", "Cleo" })
        {
            var reply = await service.Client.CallAsync<HelloReply>(GreeterService.Name, "Greeter.Hello", new HelloRequest(who), cancellationToken: ct).ConfigureAwait(false);
            Console.WriteLine($"Greeter.Hello({who}) -> {reply.Message} from {reply.Node}");
        }
        await service.Client.TellAsync(GreeterService.Name, "Greeter.Audit", new AuditEvent("demo", "said hello three times"), cancellationToken: ct).ConfigureAwait(false);
        Console.WriteLine("Greeter.Audit sent (one-way; the greeter logs it)");
        try
        {
            await service.Client.CallAsync<HelloReply>(GreeterService.Name, "Greeter.Bye", new HelloRequest("Ann"), cancellationToken: ct).ConfigureAwait(false);
        }
        catch (MicroException e)
        {
            Console.WriteLine($"Greeter.Bye -> error {e.Error.Code} {e.Error.Status}: {e.Error.Detail}");
        }
        for (var i = 1; i <= 3; i++)
            await service.Client.PublishAsync("ticks", new Tick(i, "from the demo"), new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(5) }, ct).ConfigureAwait(false);
        var until = DateTime.UtcNow.AddSeconds(5);
        while (received.Count < 3 && DateTime.UtcNow < until) await Task.Delay(20, ct).ConfigureAwait(false);
        foreach (var line in received) Console.WriteLine($"ticks -> {line}");
        if (received.Count < 3) return Fail(CallFailed, $"only {received.Count} of 3 events arrived");
        Console.WriteLine("stopping (graceful leave)");
        return Ok;
    }

    /// <summary>Errors become one readable line on stderr and an exit code.</summary>
    internal static async Task<int> Guard(Func<Task<int>> run)
    {
        try { return await run().ConfigureAwait(false); }
        catch (MicroConfigException e) { return Fail(BadInput, e.Message); }
        catch (MicroException e) { return Fail(CallFailed, $"{e.Error.Code} {e.Error.Status} ({e.Error.Id}): {e.Error.Detail}"); }
        catch (OperationCanceledException) { return Fail(CallFailed, "cancelled"); }
    }

    internal static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return code;
    }
}
