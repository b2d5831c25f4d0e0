using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Nats;
using Micro.Actors.Registry;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Streaming;

namespace Micro.Actors.Cli;

/// <summary>
/// `micro`: go-micro's toolkit for a Micro.Actors cluster. It joins as a client-only node (no service
/// role) through a seed node, does one thing, leaves gracefully. Results go to stdout (a table, or
/// JSON with --output json); errors are one line on stderr and an exit code (see <see cref="ExitCodes"/>).
/// </summary>
public static class Program
{
    private static readonly JsonSerializerOptions Pretty = new(JsonCodec.Options) { WriteIndented = true };

    private static readonly Option<string[]> Seeds = new("--seed") { Description = "host:port of a cluster node to join through (repeatable; or MICRO_SEED_NODES)", Arity = ArgumentArity.ZeroOrMore, Recursive = true };
    private static readonly Option<string?> ClusterName = new("--cluster") { Description = "Cluster name (default micro)", Recursive = true };
    private static readonly Option<double> TimeoutSeconds = new("--timeout") { Description = "Seconds to wait for the cluster and for each answer", DefaultValueFactory = _ => 5, Recursive = true };
    private static readonly Option<string> Broker = new("--broker")
    {
        Description = "What carries events: pubsub (the cluster's) or nats (NATS JetStream; or MICRO_BROKER)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICRO_BROKER") is { Length: > 0 } b ? b : "pubsub", Recursive = true,
    };
    private static readonly Option<string> NatsUrl = new("--nats")
    {
        Description = "With --broker nats: the NATS server(s), comma-separated (or MICRO_NATS_URL)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICRO_NATS_URL") is { Length: > 0 } u ? u : "nats://127.0.0.1:4222", Recursive = true,
    };
    private static readonly Option<string> Output = new("--output", "-o") { Description = "table or json", DefaultValueFactory = _ => "table", Recursive = true };

    public static async Task<int> Main(string[] args)
    {
        Output.AcceptOnlyFromAmong("table", "json");
        Broker.AcceptOnlyFromAmong("pubsub", "nats");
        var name = new Argument<string>("name") { Description = "Service name" };
        var service = new Argument<string>("service") { Description = "Service name" };
        var endpoint = new Argument<string>("endpoint") { Description = "Endpoint, e.g. Greeter.Hello" };
        var json = new Argument<string>("json") { Description = "The request as JSON, or - to read it from stdin", DefaultValueFactory = _ => "{}" };
        var topic = new Argument<string>("topic") { Description = "Topic to publish to" };
        var eventJson = new Argument<string>("json") { Description = "The event as JSON, or - to read it from stdin" };
        var headers = new Option<string[]>("--header", "-H") { Description = "Metadata k=v (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var type = new Option<string>("--type") { Description = "The event's message type (as subscribers name it, e.g. Tick)", Required = true };

        var services = new Command("services", "List the services: name, versions, node count");
        services.SetAction((r, ct) => WithNode(r, (node, o) => ListServices(node, o, ct)));

        var all = new Option<bool>("--all") { Description = "Also list the built-in endpoints every node has (Debug.Health, Debug.Stats)" };
        var inspect = new Command("service", "Show a service: its nodes, endpoints (with request and response shapes) and topics") { name, all };
        inspect.SetAction((r, ct) => WithNode(r, (node, o) => ShowService(node, o, r.GetValue(name)!, r.GetValue(all), ct)));

        var call = new Command("call", "Call an endpoint with a JSON request and print the JSON reply") { service, endpoint, json, headers };
        // Input is read and checked before joining: bad input fails at once, without touching the cluster.
        call.SetAction((r, ct) => WithInput(r.GetValue(json)!, r.GetValue(headers) ?? [], (body, metadata) =>
            WithNode(r, (node, o) => Call(node, o, r.GetValue(service)!, r.GetValue(endpoint)!, body, metadata, ct))));

        var stream = new Command("stream", "Open a streaming endpoint with a JSON request and print each reply as one JSON line as it arrives " +
            "(a bidirectional or client stream takes its requests as JSON lines from stdin when the request is -)") { service, endpoint, json, headers };
        stream.SetAction((r, ct) => WithInput(r.GetValue(json) is "-" ? "{}" : r.GetValue(json)!, r.GetValue(headers) ?? [], (body, metadata) =>
            WithNode(r, (node, o) => Stream(node, o, r.GetValue(service)!, r.GetValue(endpoint)!, r.GetValue(json) is "-" ? null : body, metadata, ct))));

        var publish = new Command("publish", "Publish a JSON event on a topic") { topic, eventJson, type, headers };
        publish.SetAction((r, ct) => WithInput(r.GetValue(eventJson)!, r.GetValue(headers) ?? [], (body, metadata) =>
            WithNode(r, (node, o) => Publish(node, o, r.GetValue(topic)!, body, r.GetValue(type)!, metadata, ct))));

        var health = new Command("health", "Ask every node of a service for its health, with latency") { service };
        health.SetAction((r, ct) => WithNode(r, (node, o) => Health(node, o, r.GetValue(service)!, ct)));

        var stats = new Command("stats", "Show each node's stats: uptime, memory, threads, GC, calls per endpoint") { service };
        stats.SetAction((r, ct) => WithNode(r, (node, o) => Stats(node, o, r.GetValue(service)!, ct)));

        var queue = new Option<string?>("--queue", "-q") { Description = "Take the events as a member of this queue group (each event to one member); a NATS group keeps its position" };
        var from = new Option<string>("--from") { Description = "Where to start: new, all (what the broker retains), a time (2026-12-01T10:00:00Z) or an age (10m, 2h)", DefaultValueFactory = _ => "new" };
        var deadLetter = new Option<bool>("--dead-letter") { Description = "The topic's dead letters (NATS: the events its subscribers failed, with the reason)" };
        var count = new Option<int?>("--count", "-n") { Description = "Stop after this many events (default: until Ctrl+C)" };
        var tailTopic = new Argument<string>("topic") { Description = "Topic to follow" };
        var events = new Command("events", "Print a topic's events as they arrive, one per line (JSON lines with -o json)") { tailTopic, queue, from, deadLetter, count };
        events.SetAction((r, ct) =>
        {
            StartPosition start;
            try { start = StartPosition.Parse(r.GetValue(from)!); }
            catch (FormatException e) { return Task.FromResult(Fail(ExitCodes.BadInput, e.Message + " (--from)")); }
            if (r.GetValue(count) is < 1) return Task.FromResult(Fail(ExitCodes.BadInput, "--count must be 1 or more"));
            var name = r.GetValue(tailTopic)!;
            return WithNode(r, (node, o) => Events(node, o, r.GetValue(deadLetter) ? NatsBroker.DeadLetterTopic(name) : name,
                r.GetValue(queue), start, r.GetValue(count), ct));
        });

        var root = new RootCommand("micro: list, inspect, call and publish to the services of a Micro.Actors cluster, and serve it over HTTP")
        {
            services, inspect, call, stream, publish, events, health, stats, ApiCommand.Api(Seeds, ClusterName, TimeoutSeconds), ApiCommand.Web(Seeds, ClusterName, TimeoutSeconds), NewCommand.Create(),
        };
        root.Options.Add(Seeds);
        root.Options.Add(ClusterName);
        root.Options.Add(TimeoutSeconds);
        root.Options.Add(Broker);
        root.Options.Add(NatsUrl);
        root.Options.Add(Output);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("Try 'micro --help'.");
            return ExitCodes.BadInput;
        }
        return await parsed.InvokeAsync().ConfigureAwait(false);
    }

    private sealed record Settings(bool Json, TimeSpan Timeout);

    /// <summary>Joins the cluster as a client-only node, runs <paramref name="run"/>, leaves.</summary>
    private static async Task<int> WithNode(ParseResult r, Func<MicroService, Settings, Task<int>> run)
    {
        var timeout = TimeSpan.FromSeconds(r.GetValue(TimeoutSeconds));
        if (timeout <= TimeSpan.Zero) return Fail(ExitCodes.BadInput, "--timeout must be more than 0 seconds");
        var settings = new Settings(r.GetValue(Output) == "json", timeout);
        MicroService node;
        try
        {
            node = MicroService.CreateClient(o =>
            {
                o.Port = 0;
                o.ClusterName = r.GetValue(ClusterName);
                o.SeedNodes.AddRange(r.GetValue(Seeds) ?? []);
                o.RequestTimeout = timeout;
                // The tool reports what matters itself; Akka's own warnings (e.g. about nodes that just
                // left) would only confuse a person at a shell.
                o.Config = """
                    akka.loglevel = ERROR
                    # Leave gracefully, but don't hang when the cluster cannot converge (an unreachable
                    # node that is not downed yet): after a second or two the tool exits anyway.
                    akka.coordinated-shutdown.phases.cluster-leave.timeout = 2s
                    akka.coordinated-shutdown.phases.cluster-exiting.timeout = 2s
                    # A short-lived node: ask peers for the pub/sub registry often, so that a publish
                    # learns of subscribers soon after joining (a ping every 100 ms, for a few seconds).
                    akka.cluster.pub-sub.gossip-interval = 100ms
                    """;
                if (r.GetValue(Broker) == MicroSettings.NatsBroker)
                {
                    o.UseNats();
                    o.Config += $"""

                        micro.broker = nats
                        micro.nats.url = "{r.GetValue(NatsUrl)}"
                        micro.nats.connect-timeout = {timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s
                        micro.nats.publish-timeout = {timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s
                        """;
                }
            });
        }
        catch (MicroConfigException e) { return Fail(ExitCodes.BadInput, e.Message); }
        if (node.Settings.SeedNodes.Count == 0)
            return Fail(ExitCodes.BadInput, "no seed node: give --seed host:port (or set MICRO_SEED_NODES) to join a cluster");

        var trace = Stopwatch.StartNew();
        void T(string what) { if (Environment.GetEnvironmentVariable("MICRO_TRACE") == "1") Console.Error.WriteLine($"trace {trace.ElapsedMilliseconds} ms: {what}"); }
        try { await node.StartAsync().ConfigureAwait(false); }
        catch (MicroException e) { return Fail(ExitCodes.Unreachable, e.Error.Detail ?? e.Message); } // e.g. the NATS server cannot be reached
        T("started");
        try
        {
            try { await node.WhenReadyAsync().WaitAsync(timeout).ConfigureAwait(false); }
            catch (TimeoutException)
            {
                if (await node.AwaitedServicesAsync().ConfigureAwait(false) is { Count: > 0 } awaited)
                    return Fail(ExitCodes.Unreachable, $"joined the cluster '{node.Settings.ClusterName}', but the node(s) of {string.Join(", ", awaited.Order(StringComparer.Ordinal))} " +
                        $"did not describe themselves within {timeout.TotalSeconds:0.#} s: are they overloaded? (a longer --timeout waits more)");
                return Fail(ExitCodes.Unreachable, $"cannot reach the cluster '{node.Settings.ClusterName}' through seed node(s) " +
                    $"{string.Join(", ", node.Settings.SeedNodes)} within {timeout.TotalSeconds:0.#} s: is a node running there, with that cluster name and the same TLS settings (MICRO_TLS_*)?");
            }
            T("ready");
            var code = await run(node, settings).ConfigureAwait(false);
            T("answered");
            return code;
        }
        catch (MicroException e) { return Fail(ExitCodes.For(e.Error), $"{e.Error.Code} {e.Error.Status} ({e.Error.Id}): {e.Error.Detail}"); }
        catch (OperationCanceledException) { return Fail(ExitCodes.Internal, "cancelled"); }
        finally
        {
            await node.StopAsync().ConfigureAwait(false);
            T("left");
        }
    }

    private static async Task<int> ListServices(MicroService node, Settings o, CancellationToken ct)
    {
        var list = await node.Registry.ListServicesAsync(ct).ConfigureAwait(false);
        if (o.Json) return Print(list);
        var table = new Table("NAME", "VERSIONS", "NODES");
        foreach (var s in list) table.Add(s.Name, string.Join(", ", s.Versions), s.Nodes);
        Console.WriteLine(list.Count == 0 ? "no services" : table.ToString());
        return ExitCodes.Ok;
    }

    private static async Task<int> ShowService(MicroService node, Settings o, string name, bool all, CancellationToken ct)
    {
        var service = await FindAsync(node, name, ct).ConfigureAwait(false);
        if (o.Json)
            return Print(new
            {
                service.Name,
                Nodes = service.Nodes.Select(n => new { n.Id, Address = n.HostPort, n.Version, Status = n.Status.ToString(), n.Metadata, n.Endpoints, n.Subscriptions }),
            });
        var nodes = new Table("ADDRESS", "VERSION", "STATUS", "METADATA");
        foreach (var n in service.Nodes)
            nodes.Add(n.HostPort, n.Version, n.Status, string.Join(",", n.Metadata.Select(kv => $"{kv.Key}={kv.Value}")));
        var endpoints = new Table("ENDPOINT", "KIND", "REQUEST", "RESPONSE");
        foreach (var e in service.Nodes.SelectMany(n => n.Endpoints).DistinctBy(e => e.Name).OrderBy(e => e.Name, StringComparer.Ordinal))
            endpoints.Add(e.Name, e.Stream is { } kind ? $"{Describe(kind)} stream" : e.ResponseType is null ? "one-way" : "call",
                $"{Short(e.RequestType)} {e.RequestShape}", e.ResponseType is null ? "(none)" : $"{Short(e.ResponseType)} {e.ResponseShape}");
        if (all)
        {
            endpoints.Add(BuiltIn.Health, "call", "(any)", $"{nameof(HealthReply)} {JsonCodec.Shape(typeof(HealthReply))}");
            endpoints.Add(BuiltIn.Stats, "call", "(any)", $"{nameof(StatsReply)} {JsonCodec.Shape(typeof(StatsReply))}");
        }
        var topics = service.Nodes.SelectMany(n => n.Subscriptions).Distinct().ToList();
        var sb = new StringBuilder();
        sb.AppendLine($"service {service.Name}").AppendLine().AppendLine(nodes.ToString()).AppendLine().AppendLine(endpoints.ToString());
        if (topics.Count > 0)
        {
            var t = new Table("TOPIC", "QUEUE", "MESSAGE");
            foreach (var s in topics) t.Add(s.Topic, s.Queue ?? "-", Short(s.MessageType));
            sb.AppendLine().AppendLine(t.ToString());
        }
        Console.Write(sb.ToString());
        return ExitCodes.Ok;
    }

    private static Task<int> WithInput(string json, string[] headers, Func<byte[], Dictionary<string, string>, Task<int>> run)
    {
        if (ReadJson(json, out var body, out var error) is false) return Task.FromResult(Fail(ExitCodes.BadInput, error));
        if (ParseHeaders(headers, out var metadata, out error) is false) return Task.FromResult(Fail(ExitCodes.BadInput, error));
        return run(body, metadata);
    }

    private static async Task<int> Call(MicroService node, Settings o, string service, string endpoint, byte[] body, Dictionary<string, string> metadata, CancellationToken ct)
    {
        var options = new CallOptions { ContentType = JsonCodec.MediaType, Timeout = o.Timeout, Headers = metadata };
        // The endpoint's kind from the registry: a stream is micro stream's, a one-way endpoint is sent to (no reply to print).
        var info = BuiltIn.IsBuiltIn(endpoint) ? null
            : (await FindAsync(node, service, ct).ConfigureAwait(false)).Nodes.SelectMany(n => n.Endpoints).FirstOrDefault(e => e.Name == endpoint);
        if (info?.Stream is { } kind)
            return Fail(ExitCodes.BadInput, $"{service} {endpoint} is a {Describe(kind)} stream: use micro stream {service} {endpoint} ...");
        if (info is { ResponseType: null })
        {
            await node.Client.TellAsync(service, endpoint, body, options, ct).ConfigureAwait(false);
            if (o.Json) return Print(new { service, endpoint, sent = true });
            Console.Error.WriteLine($"sent to {service} {endpoint} (one-way: it sends no reply)");
            return ExitCodes.Ok;
        }
        var reply = await node.Client.CallAsync<byte[]>(service, endpoint, body, options, ct).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(reply);
        Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, Pretty));
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Streams replies as JSON lines. The endpoint's kind comes from the registry: a server stream gets
    /// <paramref name="body"/>; a client or bidirectional stream gets it as its one request, or (with
    /// <paramref name="body"/> null, "-") every line of stdin.
    /// </summary>
    private static async Task<int> Stream(MicroService node, Settings o, string service, string endpoint, byte[]? body, Dictionary<string, string> metadata, CancellationToken ct)
    {
        var found = await FindAsync(node, service, ct).ConfigureAwait(false);
        var info = found.Nodes.SelectMany(n => n.Endpoints).FirstOrDefault(e => e.Name == endpoint);
        var options = new CallOptions { ContentType = JsonCodec.MediaType, Timeout = o.Timeout, Headers = metadata };
        if (info?.Stream == StreamKind.Client)
        {
            WriteLine(await node.Client.ClientStreamAsync<byte[], byte[]>(service, endpoint, Requests(body, ct), options, ct).ConfigureAwait(false));
            return ExitCodes.Ok;
        }
        var replies = info?.Stream == StreamKind.Bidirectional
            ? node.Client.StreamAsync<byte[], byte[]>(service, endpoint, Requests(body, ct), options, ct)
            : node.Client.StreamAsync<byte[]>(service, endpoint, body ?? "{}"u8.ToArray(), options, ct); // not a stream, or unknown: the client says what is wrong
        await foreach (var reply in replies.ConfigureAwait(false)) WriteLine(reply);
        return ExitCodes.Ok;

        static void WriteLine(byte[] json)
        {
            using var doc = JsonDocument.Parse(json);
            Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, JsonCodec.Options));
            Console.Out.Flush();
        }
    }

    /// <summary>The one request given, or stdin's JSON lines (each checked as JSON before it goes).</summary>
    private static async IAsyncEnumerable<byte[]> Requests(byte[]? body, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (body is not null)
        {
            yield return body;
            yield break;
        }
        while (await Console.In.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { using var _ = JsonDocument.Parse(line); }
            catch (JsonException e) { throw MicroError.BadRequest("micro.cli", $"stdin line is not JSON ({e.Message}): {line}").ToException(); }
            yield return System.Text.Encoding.UTF8.GetBytes(line);
        }
    }

    private static async Task<int> Publish(MicroService node, Settings o, string topic, byte[] body, string type, Dictionary<string, string> metadata, CancellationToken ct)
    {
        // A type that none of the topic's subscribers takes would be skipped by each of them: say so before publishing.
        var services = await Task.WhenAll((await node.Registry.ListServicesAsync(ct).ConfigureAwait(false))
            .Select(s => node.Registry.GetServiceAsync(s.Name, ct))).ConfigureAwait(false);
        var takes = services.SelectMany(s => s?.Nodes ?? []).SelectMany(n => n.Subscriptions)
            .Where(s => s.Topic == topic).Select(s => s.MessageType).Distinct().ToList();
        if (takes.Count > 0 && !takes.Any(t => t == type || Short(t) == type))
            return Fail(ExitCodes.BadInput, $"no subscriber of {topic} takes {type}; they take: {string.Join(", ", takes.Select(Short).Order(StringComparer.Ordinal))} (--type)");
        // Held until a subscriber is known (at most --timeout), so "nobody listens" is an error, not silence.
        await node.Client.PublishAsync(topic, body, new PublishOptions
        {
            ContentType = JsonCodec.MediaType,
            MessageType = type,
            Headers = metadata,
            WaitForSubscribers = o.Timeout,
        }, ct).ConfigureAwait(false);
        if (o.Json) return Print(new { topic, type, published = true });
        Console.WriteLine($"published a {type} on {topic}");
        return ExitCodes.Ok;
    }

    private static async Task<int> Events(MicroService node, Settings o, string topic, string? queue, StartPosition from, int? count, CancellationToken ct)
    {
        var arrived = System.Threading.Channels.Channel.CreateUnbounded<(byte[] Body, EventContext Event)>();
        await using var subscription = await node.Broker.SubscribeAsync<byte[]>(topic, (body, e) =>
        {
            arrived.Writer.TryWrite((body, e));
            return Task.CompletedTask;
        }, new SubscribeOptions { Queue = queue, From = from }, ct).ConfigureAwait(false);
        Console.Error.WriteLine($"following {topic} from {from}{(queue is null ? "" : $" in queue group {queue}")} through {node.Settings.Broker}; Ctrl+C stops");
        var seen = 0;
        try
        {
            await foreach (var (body, e) in arrived.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                var text = e.ContentType == JsonCodec.MediaType ? Encoding.UTF8.GetString(body) : null;
                var type = e.Headers.GetValueOrDefault(PubSubBroker.MessageTypeHeader) ?? "";
                var reason = e.Headers.GetValueOrDefault(NatsBroker.DeadReasonHeader);
                if (o.Json)
                {
                    JsonElement? json = null;
                    if (text is not null) try { json = JsonDocument.Parse(text).RootElement.Clone(); } catch (JsonException) { }
                    Console.WriteLine(JsonSerializer.Serialize(new { time = e.PublishedUtc, id = e.Id, type, contentType = e.ContentType, headers = e.Headers, body = json, reason }, JsonCodec.Options));
                }
                else
                    Console.WriteLine($"{e.PublishedUtc:yyyy-MM-ddTHH:mm:ss.fffZ}  {e.Id}  {(type.Length > 0 ? type : "-")}  {text ?? $"({body.Length} bytes of {e.ContentType})"}" +
                        (reason is null ? "" : $"  reason: {reason}"));
                if (count is { } c && ++seen >= c) break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { } // Ctrl+C: the way to stop
        return ExitCodes.Ok;
    }

    private static async Task<int> Health(MicroService node, Settings o, string name, CancellationToken ct)
    {
        var service = await FindAsync(node, name, ct).ConfigureAwait(false);
        var results = await Task.WhenAll(service.Nodes.Select(async n =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                var h = await node.Client.CallAsync<HealthReply>(name, BuiltIn.Health, new object(),
                    new CallOptions { Address = n.HostPort, Retries = 0, Timeout = o.Timeout }, ct).ConfigureAwait(false);
                return (Node: n.HostPort, h.Status, h.Version, Ms: watch.Elapsed.TotalMilliseconds, Error: (string?)null);
            }
            catch (MicroException e)
            {
                return (Node: n.HostPort, Status: "failing", n.Version, Ms: watch.Elapsed.TotalMilliseconds, Error: (string?)$"{e.Error.Code} {e.Error.Detail}");
            }
        })).ConfigureAwait(false);
        if (o.Json) Print(results.Select(x => new { node = x.Node, status = x.Status, version = x.Version, latencyMs = Math.Round(x.Ms, 2), error = x.Error }));
        else
        {
            var table = new Table("NODE", "STATUS", "VERSION", "LATENCY", "ERROR");
            foreach (var x in results) table.Add(x.Node, x.Status, x.Version, $"{x.Ms:0.0} ms", x.Error ?? "");
            Console.WriteLine(table);
        }
        return results.All(x => x.Error is null) ? ExitCodes.Ok : ExitCodes.RemoteError;
    }

    private static async Task<int> Stats(MicroService node, Settings o, string name, CancellationToken ct)
    {
        var service = await FindAsync(node, name, ct).ConfigureAwait(false);
        var stats = await Task.WhenAll(service.Nodes.Select(n => node.Client.CallAsync<StatsReply>(name, BuiltIn.Stats, new object(),
            new CallOptions { Address = n.HostPort, Retries = 0, Timeout = o.Timeout }, ct))).ConfigureAwait(false);
        if (o.Json) return Print(stats);
        var nodes = new Table("NODE", "STARTED (UTC)", "UPTIME", "MEMORY", "THREADS", "GC 0/1/2");
        var endpoints = new Table("NODE", "ENDPOINT", "SERVED", "FAILED");
        foreach (var s in stats)
        {
            nodes.Add(s.Node, s.StartedUtc.ToString("yyyy-MM-dd HH:mm:ss"), s.Uptime.ToString(@"d\.hh\:mm\:ss"), $"{s.MemoryBytes / 1048576.0:0.0} MiB",
                s.Threads, $"{s.Gen0Collections}/{s.Gen1Collections}/{s.Gen2Collections}");
            foreach (var e in s.Endpoints) endpoints.Add(s.Node, e.Endpoint, e.Served, e.Failed);
        }
        Console.WriteLine(nodes);
        Console.WriteLine();
        Console.WriteLine(endpoints);
        return ExitCodes.Ok;
    }

    private static async Task<ServiceInfo> FindAsync(MicroService node, string name, CancellationToken ct)
    {
        if (await node.Registry.GetServiceAsync(name, ct).ConfigureAwait(false) is { } service) return service;
        var known = (await node.Registry.ListServicesAsync(ct).ConfigureAwait(false)).Select(s => s.Name).ToList();
        throw MicroError.NotFound("micro.cli", $"service '{name}' is not in the registry; known services: {(known.Count == 0 ? "(none)" : string.Join(", ", known))}").ToException();
    }

    /// <summary>The argument, or stdin for "-"; checked to be JSON before anything is sent.</summary>
    private static bool ReadJson(string argument, out byte[] body, out string error)
    {
        var text = argument == "-" ? Console.In.ReadToEnd() : argument;
        body = Encoding.UTF8.GetBytes(text);
        error = "";
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException e)
        {
            error = $"400 malformed JSON ({e.Message.Split(". ")[0].TrimEnd('.')}): {Truncate(text)}";
            return false;
        }
    }

    private static bool ParseHeaders(string[] pairs, out Dictionary<string, string> headers, out string error)
    {
        headers = new Dictionary<string, string>(StringComparer.Ordinal);
        error = "";
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                error = $"--header '{pair}' is not k=v";
                return false;
            }
            headers[pair[..eq]] = pair[(eq + 1)..];
        }
        return true;
    }

    private static int Print(object value)
    {
        Console.WriteLine(JsonSerializer.Serialize(value, Pretty));
        return ExitCodes.Ok;
    }

    private static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return code;
    }

    private static string Short(string typeName) => typeName[(typeName.LastIndexOfAny(['.', '+']) + 1)..];

    private static string Describe(StreamKind kind) => kind switch
    {
        StreamKind.Server => "server",
        StreamKind.Client => "client",
        _ => "bidirectional",
    };

    private static string Truncate(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
