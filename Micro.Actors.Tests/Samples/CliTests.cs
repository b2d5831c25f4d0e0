using System.Diagnostics;
using System.Text.Json;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>
/// The real `micro` binary against a real greeter (and subscriber) process: every command, every
/// bad input, exit codes and output. One greeter serves the whole class.
/// </summary>
[Collection(ProcessesLane.Name)]
public sealed class CliTests : IClassFixture<CliTests.Greeter>
{
    public sealed class Greeter : IAsyncLifetime
    {
        public int Port { get; } = TestCluster.FreePort();
        public ProcessRunner Process { get; private set; } = null!;
        public string Seed => $"127.0.0.1:{Port}";

        public async Task InitializeAsync()
        {
            Process = ProcessRunner.StartSample("greeter", "--port", $"{Port}");
            await Process.WaitForLogAsync("is Up in cluster", TimeSpan.FromSeconds(30));
        }

        public Task DisposeAsync()
        {
            Process.Dispose();
            return Task.CompletedTask;
        }
    }

    private readonly Greeter _greeter;

    public CliTests(Greeter greeter) => _greeter = greeter;

    private static string MicroDll => ProcessRunner.Built("Micro.Actors.Cli", "micro.dll");

    private async Task<(int Exit, string Out, string Err, TimeSpan Took)> MicroWithStdin(string? stdin, params string[] args)
    {
        var watch = Stopwatch.StartNew();
        using var p = ProcessRunner.Start("dotnet", [MicroDll, .. args, "--seed", _greeter.Seed]);
        if (stdin is not null) p.WriteStdin(stdin);
        var exit = await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exit, string.Join('\n', p.Stdout), string.Join('\n', p.Stderr), watch.Elapsed);
    }

    private Task<(int Exit, string Out, string Err, TimeSpan Took)> Micro(params string[] args) => MicroWithStdin(null, args);

    [Fact]
    public async Task Stream_prints_each_reply_as_a_json_line_and_sends_stdin_lines_to_a_bidirectional_stream()
    {
        var count = await Micro("stream", "greeter", "Greeter.Count", """{"to":5}""");
        Assert.True(count.Exit == 0, count.Err);
        Assert.Equal(Enumerable.Range(1, 5).Select(n => $$"""{"n":{{n}}}"""), count.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var chat = await MicroWithStdin("{\"text\":\"hi\"}\n{\"text\":\"bye\"}\n", "stream", "greeter", "Greeter.Chat", "-");
        Assert.True(chat.Exit == 0, chat.Err);
        Assert.Equal(["""{"text":"you said: hi"}""", """{"text":"you said: bye"}"""], chat.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var unary = await Micro("stream", "greeter", "Greeter.Hello", """{"name":"x"}""");
        Assert.Equal(2, unary.Exit);
        Assert.Contains("not a streaming endpoint", unary.Err);
        var negative = await Micro("stream", "greeter", "Greeter.Count", """{"to":-1}""");
        Assert.Equal(2, negative.Exit);
        Assert.Contains("cannot count to -1", negative.Err);
    }

    [Fact]
    public async Task Services_lists_the_greeter_as_a_table_and_as_json()
    {
        var table = await Micro("services");
        Assert.True(table.Exit == 0, table.Err);
        Assert.Matches(@"NAME\s+VERSIONS\s+NODES", table.Out);
        Assert.Matches(@"greeter\s+1\.0\.0\s+1", table.Out);

        var json = await Micro("services", "--output", "json");
        var services = JsonDocument.Parse(json.Out).RootElement;
        Assert.Contains(services.EnumerateArray(), s => s.GetProperty("name").GetString() == "greeter" && s.GetProperty("nodes").GetInt32() == 1);
    }

    [Fact]
    public async Task Service_shows_nodes_endpoints_and_shapes_and_an_unknown_one_exits_3()
    {
        var shown = await Micro("service", "greeter");
        Assert.True(shown.Exit == 0, shown.Err);
        Assert.Contains($"127.0.0.1:{_greeter.Port}", shown.Out);
        Assert.Matches(@"Greeter\.Hello\s+call\s+HelloRequest \{""name"":""string""\}\s+HelloReply \{""message"":""string"",""node"":""string""\}", shown.Out);
        Assert.Matches(@"Greeter\.Audit\s+one-way\s+AuditEvent \{.*\}\s+\(none\)", shown.Out);
        Assert.Matches(@"Greeter\.Count\s+server stream\s+CountRequest", shown.Out);
        Assert.Matches(@"Greeter\.Chat\s+bidirectional stream\s+ChatMessage", shown.Out);
        Assert.DoesNotContain("Debug.", shown.Out);
        var withBuiltIns = await Micro("service", "greeter", "--all");
        Assert.Matches(@"Debug\.Health\s+call\s+\(any\)\s+HealthReply \{""status"":""string""", withBuiltIns.Out);

        var missing = await Micro("service", "nope");
        Assert.Equal(3, missing.Exit);
        Assert.Matches(@"^error: 404 Not Found \(micro\.cli\): service 'nope' .*known services: greeter", missing.Err.Split('\n').Single(l => l.StartsWith("error: ")));
    }

    [Fact]
    public async Task Call_prints_the_JSON_reply_from_an_argument_or_stdin_and_takes_headers()
    {
        var call = await Micro("call", "greeter", "Greeter.Hello", """{"name":"John"}""", "--header", "trace=1");
        Assert.True(call.Exit == 0, call.Err);
        var reply = JsonDocument.Parse(call.Out).RootElement;
        Assert.Equal("Hello John", reply.GetProperty("message").GetString());
        Assert.Equal($"127.0.0.1:{_greeter.Port}", reply.GetProperty("node").GetString());
        // Graceful leave is quick: the whole command, start to exit, stays within a few seconds.
        Assert.True(call.Took < TimeSpan.FromSeconds(8), $"took {call.Took}");

        var piped = await MicroWithStdin("""{"NAME":"Piped"}""", "call", "greeter", "Greeter.Hello", "-");
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Contains("Hello Piped", piped.Out);
    }

    [Fact]
    public async Task Call_reaches_a_protobuf_endpoint_in_protobufs_JSON_mapping_and_service_shows_its_shape()
    {
        var call = await Micro("call", "greeter", "Greeter.Greet", """{"name":"Ann","titles":["Dr"],"times":"2"}""");
        Assert.True(call.Exit == 0, call.Err);
        var reply = JsonDocument.Parse(call.Out).RootElement;
        Assert.Equal("Hello Dr Ann Hello Dr Ann", reply.GetProperty("message").GetString());
        Assert.Equal(25, reply.GetProperty("length").GetInt32());

        var bad = await Micro("call", "greeter", "Greeter.Greet", """{"name":7}""");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("does not fit the protobuf GreetRequest", bad.Err);

        var shown = await Micro("service", "greeter");
        Assert.Matches(@"Greeter\.Greet\s+call\s+GreetRequest \{""name"":""string"",""titles"":\[""string""\],""times"":""string""\}\s+GreetReply \{""message"":""string"",""length"":""integer""\}", shown.Out);
    }

    [Fact]
    public async Task Bad_requests_exit_2_with_one_readable_line_and_the_greeter_keeps_serving()
    {
        (string Json, string Message)[] cases =
        [
            ("""{"name":""", "malformed JSON"),
            ("""{"name":5}""", "400 Bad Request (greeter): Greeter.Hello takes a HelloRequest: the JSON does not fit HelloRequest at $.name"),
            ("""{}""", "400 Bad Request (greeter): Greeter.Hello takes a HelloRequest: the JSON does not fit HelloRequest"),
            ("""{"name":""}""", "400 Bad Request (greeter): name is empty"),
        ];
        foreach (var (json, message) in cases)
        {
            var bad = await Micro("call", "greeter", "Greeter.Hello", json);
            Assert.True(bad.Exit == 2, $"{json}: exit {bad.Exit}: {bad.Err}");
            Assert.Empty(bad.Out);
            Assert.Contains(message, bad.Err.Split('\n').Single(l => l.StartsWith("error: ")));
        }

        // The endpoint's kind, from the registry: a stream is micro stream's; a one-way endpoint is sent to.
        var stream = await Micro("call", "greeter", "Greeter.Count", """{"to":2}""");
        Assert.Equal(2, stream.Exit);
        Assert.Contains("error: greeter Greeter.Count is a server stream: use micro stream greeter Greeter.Count", stream.Err);
        var oneWay = await Micro("call", "greeter", "Greeter.Audit", """{"who":"cli","what":"checked"}""");
        Assert.True(oneWay.Exit == 0, oneWay.Err);
        Assert.Empty(oneWay.Out);
        Assert.Contains("sent to greeter Greeter.Audit (one-way: it sends no reply)", oneWay.Err);

        var still = await Micro("call", "greeter", "Greeter.Hello", """{"name":"Still"}""");
        Assert.True(still.Exit == 0, $"exit {still.Exit} after {still.Took}: {still.Err}");
    }

    [Fact]
    public async Task Unknown_service_and_endpoint_exit_3_timeout_exits_4_oversized_exits_2()
    {
        var service = await Micro("call", "nope", "Nope.Do", "{}");
        Assert.Equal(3, service.Exit);
        Assert.Contains("service 'nope' is not in the registry", service.Err);

        var endpoint = await Micro("call", "greeter", "Greeter.Bye", "{}");
        Assert.Equal(3, endpoint.Exit);
        Assert.Contains("its endpoints are: Greeter.Audit, Greeter.Chat, Greeter.Count, Greeter.Greet, Greeter.Hello, Greeter.Wait", endpoint.Err);

        // --timeout is also the wait for the cluster: 3 s, so that a busy machine's slow join is not what is measured.
        var slow = await Micro("call", "greeter", "Greeter.Wait", """{"milliseconds":10000}""", "--timeout", "3");
        Assert.Equal(4, slow.Exit);
        Assert.Contains("408", slow.Err);

        var big = await MicroWithStdin(JsonSerializer.Serialize(new { name = new string('x', 200_000) }), "call", "greeter", "Greeter.Hello", "-");
        Assert.Equal(2, big.Exit);
        Assert.Contains("413", big.Err);
        Assert.Contains("maximum-frame-size", big.Err);

        var header = await Micro("call", "greeter", "Greeter.Hello", """{"name":"x"}""", "--header", "novalue");
        Assert.Equal(2, header.Exit);

        var usage = await Micro("call", "greeter");
        Assert.Equal(2, usage.Exit);

        var still = await Micro("call", "greeter", "Greeter.Hello", """{"name":"Still"}""");
        Assert.True(still.Exit == 0, $"exit {still.Exit} after {still.Took}: {still.Err}");
    }

    [Fact]
    public async Task An_unreachable_seed_exits_6_within_the_timeout_naming_the_seed()
    {
        using var dead = new DeadPort();
        var port = dead.Port;
        var watch = Stopwatch.StartNew();
        using var p = ProcessRunner.Start("dotnet", [MicroDll, "services", "--seed", $"127.0.0.1:{port}", "--timeout", "2"]);
        var exit = await p.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(6, exit);
        Assert.Contains(p.Stderr, l => l.StartsWith("error: cannot reach the cluster") && l.Contains($"127.0.0.1:{port}") && l.Contains("within 2 s"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Health_and_stats_report_every_node()
    {
        await Micro("call", "greeter", "Greeter.Hello", """{"name":"Counted"}""");
        var health = await Micro("health", "greeter");
        Assert.True(health.Exit == 0, health.Err);
        Assert.Matches($@"127\.0\.0\.1:{_greeter.Port}\s+ok\s+1\.0\.0\s+[\d.]+ ms", health.Out);

        var json = JsonDocument.Parse((await Micro("health", "greeter", "-o", "json")).Out).RootElement;
        Assert.Equal("ok", json[0].GetProperty("status").GetString());

        var stats = await Micro("stats", "greeter");
        Assert.True(stats.Exit == 0, stats.Err);
        Assert.Matches(@"MEMORY", stats.Out);
        Assert.Matches($@"127\.0\.0\.1:{_greeter.Port}\s+Greeter\.Hello\s+[1-9]\d*\s+\d+", stats.Out);
    }

    [Fact]
    public async Task Publish_reaches_a_subscriber_process_and_without_one_exits_3()
    {
        using var subscriber = ProcessRunner.StartSample("subscriber", "--topic", "cli-ticks", "--port", "0", "--seed", _greeter.Seed);
        await subscriber.WaitForLogAsync("is Up in cluster", TimeSpan.FromSeconds(30));

        var published = await Micro("publish", "cli-ticks", """{"number":42,"text":"from the cli"}""", "--type", "Tick");
        Assert.True(published.Exit == 0, published.Err);
        await Eventually.TrueAsync(() => subscriber.Stdout.Any(l => l.StartsWith("event 42 from the cli")), TimeSpan.FromSeconds(10), "the event at the subscriber");

        // A type no subscriber of the topic takes is refused before it goes, with the types they take.
        var wrongType = await Micro("publish", "cli-ticks", """{"who":"x","what":"y"}""", "--type", "AuditEvent");
        Assert.Equal(2, wrongType.Exit);
        Assert.Contains("error: no subscriber of cli-ticks takes AuditEvent; they take: Tick", wrongType.Err);

        var nobody = await Micro("publish", "nobody-listens", """{"number":1,"text":"x"}""", "--type", "Tick", "--timeout", "3");
        Assert.Equal(3, nobody.Exit);
        Assert.Contains("no subscriber of topic 'nobody-listens'", nobody.Err);

        // micro events follows the topic on the cluster's broker too: every event, whatever its type.
        using var follower = ProcessRunner.Start("dotnet", [MicroDll, "events", "cli-ticks", "--count", "1", "--seed", _greeter.Seed]);
        await follower.WaitForLogAsync("following cli-ticks from new through pubsub", TimeSpan.FromSeconds(30));
        // A new publisher node learns of the follower by gossip: a publish that went before it did reached only the subscriber.
        await Eventually.TrueAsync(async () =>
        {
            Assert.Equal(0, (await Micro("publish", "cli-ticks", """{"number":43,"text":"followed"}""", "--type", "Tick")).Exit);
            return follower.HasExited;
        }, TimeSpan.FromSeconds(40), "the follower to print the event and exit");
        Assert.Equal(0, await follower.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(follower.Stdout, l => l.Contains("  Tick  ") && l.Contains("\"text\":\"followed\""));

        // Leave the shared cluster as found: a killed member would stay unreachable until downed.
        subscriber.Terminate();
        Assert.Equal(0, await subscriber.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }
}
