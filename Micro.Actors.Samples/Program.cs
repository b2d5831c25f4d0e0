using Micro.Actors.Contracts;
using System.CommandLine;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Broker;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Samples.PubSub;
using Micro.Actors.Client;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

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
        greeter.SetAction((r, ct) => Guard(() => RunGreeter(Node(r, host, port, seeds), ct)));

        var front = new Command("front", "Run the front service until Ctrl+C or SIGTERM: Front.Hello greets through the greeter and publishes each greeting on topic greetings (default port 4053)") { host, port, seeds };
        front.SetAction((r, ct) => Guard(async () =>
        {
            using var app = SampleHost.Front(Node(r, host, port, seeds));
            await app.RunAsync(ct).ConfigureAwait(false);
            return Ok;
        }));

        var concurrency = new Option<int?>("--concurrency") { Description = "Calls in flight at once (load mode: prints a summary line instead of one line per reply)" };
        var duration = new Option<double?>("--duration") { Description = "Seconds to keep calling (load mode), instead of --count calls" };
        var client = new Command("greeter-client", "Join the cluster, call Greeter.Hello N times, print one line per reply (default port 0)") { host, port, seeds, count, name, concurrency, duration };
        client.SetAction((r, ct) => Guard(() => r.GetValue(concurrency) is null && r.GetValue(duration) is null
            ? RunClient(Node(r, host, port, seeds), r.GetValue(count), r.GetValue(name)!, ct)
            : LoadClient.Run(Node(r, host, port, seeds), r.GetValue(concurrency) ?? 1, r.GetValue(duration), r.GetValue(count), r.GetValue(name)!, ct)));

        var topic = new Option<string>("--topic") { Description = "Topic to subscribe or publish to", Required = true };
        var queue = new Option<string?>("--queue") { Description = "Queue group: each event goes to one member of the group" };
        var wait = new Option<int>("--wait") { Description = "Seconds to wait for the cluster and for subscribers", DefaultValueFactory = _ => 30 };
        var failEvery = new Option<int?>("--fail-every") { Description = "Throw on every event whose number is a multiple of N (to see retries and dead letters)" };
        var subscriber = new Command("subscriber", "Subscribe to a topic and print one line per event (default port 4053)") { topic, queue, failEvery, host, port, seeds };
        subscriber.SetAction((r, ct) => Guard(() => PubSubSamples.RunSubscriber(Node(r, host, port, seeds), r.GetValue(topic)!, r.GetValue(queue), ct, r.GetValue(failEvery))));
        var publisher = new Command("publisher", "Wait until a topic has subscribers, publish events 1..N, exit (default port 0)") { topic, count, wait, host, port, seeds };
        publisher.SetAction((r, ct) => Guard(() => PubSubSamples.RunPublisher(Node(r, host, port, seeds), r.GetValue(topic)!, r.GetValue(count), TimeSpan.FromSeconds(r.GetValue(wait)), ct)));

        var root = new RootCommand("Micro.Actors samples. With no command: a demo on one local node.") { greeter, front, client, subscriber, publisher };
        root.SetAction((_, ct) => Guard(() => RunDemo(ct)));
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    /// <summary>The node's flags, over configuration (a flag not given leaves the setting to Micro__* and micro.conf).</summary>
    private static Action<MicroServiceOptions> Node(ParseResult r, Option<string?> host, Option<int?> port, Option<string[]> seeds) => o =>
    {
        o.Host = r.GetValue(host);
        o.Port = r.GetValue(port);
        o.SeedNodes.AddRange(r.GetValue(seeds) ?? []);
    };

    /// <summary>A client tool fails fast when it cannot join: its start waits as long as one call would.</summary>
    internal static Action<MicroServiceOptions> ClientNode(Action<MicroServiceOptions> node) => o =>
    {
        node(o);
        o.Config = "micro.start-timeout = 5s";
    };

    private static async Task<int> RunGreeter(Action<MicroServiceOptions> node, CancellationToken ct)
    {
        using var host = SampleHost.Greeter(node);
        await host.RunAsync(ct).ConfigureAwait(false);
        return Ok;
    }

    private static async Task<int> RunClient(Action<MicroServiceOptions> node, int count, string who, CancellationToken ct)
    {
        if (count < 1) return Fail(BadInput, "--count must be 1 or more");
        using var host = SampleHost.Client("greeter-client", ClientNode(node));
        await host.StartAsync(ct).ConfigureAwait(false);
        var greeter = host.Services.GetRequiredService<IClient>().For<IGreeter>();
        for (var i = 1; i <= count; i++)
        {
            var reply = await greeter.Hello(new HelloRequest(who), ct).ConfigureAwait(false);
            Console.WriteLine($"{i}: {reply.Message} from {reply.Node}");
        }
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return Ok;
    }

    private static async Task<int> RunDemo(CancellationToken ct)
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var host = SampleHost.Greeter(o => o.Port = 0, service => service
            .Subscribe<Tick>("ticks", (t, e) => { received.Enqueue($"event {t.Number} {t.Text} (id {e.Id[..8]})"); return Task.CompletedTask; }));
        await host.StartAsync(ct).ConfigureAwait(false);
        var service = host.Services.GetRequiredService<MicroService>();
        Console.WriteLine($"greeter is running at {service.Address} (a one-node cluster)");
        var greeter = service.Client.For<IGreeter>();   // the typed client of the greeter's contract
        foreach (var who in new[] { "Ann", "Bob", "Cleo" })
        {
            var reply = await greeter.Hello(new HelloRequest(who), ct).ConfigureAwait(false);
            Console.WriteLine($"Greeter.Hello({who}) -> {reply.Message} from {reply.Node}");
        }
        await greeter.Audit(new AuditEvent("demo", "said hello three times"), ct).ConfigureAwait(false);
        Console.WriteLine("Greeter.Audit sent (one-way; the greeter logs it)");
        try
        {
            // The string API is the dynamic path (the CLI, gateways): an endpoint no contract has is a 404.
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
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return Ok;
    }

    /// <summary>Errors become one readable line on stderr and an exit code.</summary>
    internal static async Task<int> Guard(Func<Task<int>> run)
    {
        try { return await run().ConfigureAwait(false); }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1 && Exit(e.InnerException!) is { } code) { return code; }
        catch (Exception e) when (Exit(e) is { } code) { return code; }
    }

    /// <summary>The exit for a failure the samples expect (bad settings, a call's error, Ctrl+C); null for a bug.</summary>
    private static int? Exit(Exception e) => e switch
    {
        MicroConfigException or OptionsValidationException => Fail(BadInput, e.Message),
        MicroException m => Fail(CallFailed, $"{m.Error.Code} {m.Error.Status} ({m.Error.Id}): {m.Error.Detail}"),
        OperationCanceledException => Fail(CallFailed, "cancelled"),
        _ => null,
    };

    internal static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return code;
    }
}
