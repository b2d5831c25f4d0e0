using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Streams;
using Grpc.Net.Client;
using Micro.Actors.Benchmarks.Wire;
using Micro.Actors.Client;
using Micro.Actors.Service;
using Proto.Remote;
using Proto.Remote.GrpcNet;

namespace Micro.Actors.Benchmarks;

public sealed record RunOptions(TimeSpan Duration, TimeSpan Warmup, int[] Concurrency, string[] Systems, int[] ScaleSizes, int JoinSamples = 3, int Rounds = 1);

/// <summary>Every scenario: a server process on 127.0.0.1, driven from this process.</summary>
public static class Scenarios
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A client node of the bench cluster, joined through <paramref name="port"/>.</summary>
    private static async Task<MicroService> ClientAsync(int port, string? transport = null)
    {
        var client = Servers.Node(null, 0, $"127.0.0.1:{port}", transport: transport);
        try
        {
            await client.StartAsync();
            await client.WhenUpAsync().WaitAsync(Startup);
            return client;
        }
        catch
        {
            await client.StopAsync();
            throw;
        }
    }

    /// <summary>A plain Akka cluster node (Akka's own transport), joined through <paramref name="port"/>.</summary>
    private static async Task<ActorSystem> RawClientAsync(int port, bool streams)
    {
        var config = Servers.RawAkka(0, joinSelf: false);
        var raw = ActorSystem.Create("bench", streams ? config.WithFallback(Akka.Streams.ActorMaterializer.DefaultConfig()) : config);
        try
        {
            await Akka.Cluster.Cluster.Get(raw).JoinAsync(new Address("akka.tcp", "bench", "127.0.0.1", port)).WaitAsync(Startup);
            return raw;
        }
        catch
        {
            await raw.Terminate();
            throw;
        }
    }

    /// <summary>Calls until one succeeds (the registry may not list the service yet).</summary>
    private static async Task UntilAnswersAsync(Func<Task> call)
    {
        var deadline = DateTime.UtcNow + Startup;
        while (true)
        {
            try { await call(); return; }
            catch (Exception) when (DateTime.UtcNow < deadline) { await Task.Delay(20); }
        }
    }

    /// <summary>
    /// Every system's server and client are started and warmed up first; then each concurrency
    /// measures the systems back to back, in an order that rotates from one concurrency (and round)
    /// to the next. A same-run ratio so compares points taken seconds apart, not minutes: this
    /// machine's background load drifts, and whichever system went first used to get the quieter
    /// minutes. Every system has a server process and a client of its own: raw Akka runs on plain
    /// Akka nodes with Akka's own transport, as its users run it.
    /// </summary>
    public static Task<List<Point>> RpcAsync(RunOptions o, Action<string> progress) =>
        SideBySideAsync("rpc", o.Systems.Distinct().Select(system => new Contender(system, ["serve", ServerKind(system)], (port, _) => DriverAsync(system, port))).ToList(),
            o, progress);

    /// <summary>
    /// Micro.Actors RPC as in <see cref="RpcAsync"/>, once per transport (a server and a client node of each, interleaved); the
    /// TLS ones share a self-signed certificate made for the run. Each point names the transport both nodes ran.
    /// </summary>
    public static async Task<List<Point>> TransportsAsync(RunOptions o, Action<string> progress)
    {
        using var certificate = Transports.Certificate(); // before the servers start: they read it from the environment
        return await SideBySideAsync("transports", Transports.All.Select(transport => new Contender(transport, ["serve", "micro", "--transport", transport],
            async (port, server) =>
            {
                var (driver, client) = await MicroDriverAsync(port, transport);
                var (served, mine) = ((await server.Ready).Split(Servers.RanMark, 2) is [_, var ran] ? ran : "?", Transports.Ran(client));
                return driver with { Ran = served == mine ? $"ran {mine} (both nodes)" : $"ran {served} (server), {mine} (client)" };
            })).ToList(), o, progress);
    }

    /// <summary>One system of a side-by-side run: its server's command line (less the port) and how to connect to that server.</summary>
    private sealed record Contender(string System, string[] Serve, Func<int, ChildProcess, Task<Driver>> ConnectAsync);

    /// <summary>One round trip of a system against its server, how to let go of what it made, and what its points say it ran.</summary>
    private sealed record Driver(Func<Task> Call, Func<Task> Stop, string? Ran = null);

    /// <summary>Every contender's server and client started and warmed up, then measured interleaved (see <see cref="RpcAsync"/>).</summary>
    private static async Task<List<Point>> SideBySideAsync(string scenario, IReadOnlyList<Contender> contenders, RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        var servers = new List<ChildProcess>();
        var drivers = new List<(string System, Driver Driver)>();
        try
        {
            // The server processes start side by side (most of their start is waiting); each is then warmed up on its own.
            progress($"{scenario}: starting the servers of {string.Join(", ", contenders.Select(c => c.System))}");
            var ports = new List<int>();
            while (ports.Count < contenders.Count) if (FreePort() is var free && !ports.Contains(free)) ports.Add(free);
            var starting = contenders.Select((c, i) => ChildProcess.StartAsync(Startup, [.. c.Serve, "--port", $"{ports[i]}"])).ToList();
            try { await Task.WhenAll(starting); }
            finally { servers.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result)); }
            for (var i = 0; i < contenders.Count; i++)
            {
                var system = contenders[i].System;
                progress($"{scenario} {system}: warming up");
                var driver = await contenders[i].ConnectAsync(ports[i], servers[i]);
                drivers.Add((system, driver));
                await UntilAnswersAsync(driver.Call);
                // Both processes start cold: JIT tiering settles under load before the first point.
                await LoadRunner.RunAsync(system, "warm-up", 16, driver.Call, TimeSpan.Zero, o.Warmup * 2);
            }
            var ran = drivers.ToDictionary(d => d.System, d => d.Driver.Ran);
            points.AddRange((await InterleavedAsync(scenario, drivers.Select(d => (d.System, d.Driver.Call)).ToList(), o, progress))
                .Select(p => p with { Ran = ran[p.System] }));
        }
        finally
        {
            // Every server process goes, whatever a client's stop throws (the first failure is reported).
            try
            {
                foreach (var (system, driver) in drivers)
                    try { await driver.Stop(); }
                    catch (Exception e) { progress($"{scenario} {system}: its client did not stop cleanly: {e.Message}"); }
            }
            finally
            {
                foreach (var process in servers) process.Dispose();
            }
        }
        return points;
    }

    /// <summary>Each concurrency measures every system back to back, starting one system later each time (see <see cref="RpcAsync"/>).</summary>
    private static async Task<List<Point>> InterleavedAsync(string scenario, IReadOnlyList<(string System, Func<Task> Call)> drivers, RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        var turn = 0;
        for (var round = 1; round <= o.Rounds; round++)
            foreach (var c in o.Concurrency)
            {
                for (var i = 0; i < drivers.Count; i++)
                {
                    var (system, call) = drivers[(i + turn) % drivers.Count];
                    progress($"{scenario} {system} c={c}" + (o.Rounds > 1 ? $" (round {round} of {o.Rounds})" : ""));
                    points.Add(await LoadRunner.RunAsync(system, scenario, c, call, o.Warmup, o.Duration) with { Round = round });
                }
                turn++;
            }
        return points;
    }

    /// <summary>
    /// The typed client against the string call, paired: one server, one client node, and in each window half the
    /// workers call through <see cref="IBench"/>'s generated client and half with the string API, at the same time —
    /// so the machine's drift (±10 % between windows here) falls on both alike. Points per half, system micro / micro-typed.
    /// </summary>
    public static async Task<List<Point>> TypedAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        var port = FreePort();
        using var server = await ChildProcess.StartAsync(Startup, "serve", "micro", "--port", $"{port}");
        var client = await ClientAsync(port);
        try
        {
            var request = new BenchRequest(Payload.Text);
            Func<Task> untyped = () => client.Client.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, request);
            var bench = Contracts.ContractExtensions.For<IBench>(client.Client);
            Func<Task> typed = () => bench.Echo(request);
            await UntilAnswersAsync(typed);
            await LoadRunner.RunAsync("micro", "warm-up", 16, untyped, TimeSpan.Zero, o.Warmup);
            await LoadRunner.RunAsync("micro-typed", "warm-up", 16, typed, TimeSpan.Zero, o.Warmup);
            for (var round = 1; round <= o.Rounds; round++)
                foreach (var c in o.Concurrency.Select(c => Math.Max(2, c)).Distinct())
                {
                    progress($"typed c={c} ({c / 2} + {c / 2})" + (o.Rounds > 1 ? $" (round {round} of {o.Rounds})" : ""));
                    var both = await Task.WhenAll(
                        LoadRunner.RunAsync("micro", "typed", c / 2, untyped, o.Warmup, o.Duration),
                        LoadRunner.RunAsync("micro-typed", "typed", c / 2, typed, o.Warmup, o.Duration));
                    points.AddRange(both.Select(p => p with { Round = round }));
                }
        }
        finally { await client.StopAsync(); }
        return points;
    }

    /// <summary>
    /// The gateway's own cost: the same echo called through the HTTP gateway (a .NET HttpClient, HTTP/1.1 keep-alive,
    /// JSON), from a client node in the cluster (Hyperion), and from a plain ASP.NET Core endpoint in the gateway's
    /// process that answers the same JSON without a call. The three interleave per concurrency, as in rpc.
    /// </summary>
    public static async Task<List<Point>> GatewayAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        var (port, http) = (FreePort(), FreePort());
        progress("gateway: starting the service and the gateway");
        // Side by side: the gateway's node keeps asking to join until the service's node is there.
        var starting = new[]
        {
            ChildProcess.StartAsync(Startup, "serve", "micro", "--port", $"{port}"),
            ChildProcess.StartAsync(Startup, "serve", "gateway", "--port", $"{http}", "--seed", $"127.0.0.1:{port}"),
        };
        try { await Task.WhenAll(starting); }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) started.Result.Dispose();
            throw;
        }
        using var server = starting[0].Result;
        using var gateway = starting[1].Result;
        var client = await ClientAsync(port);
        using var httpClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{http}"),
        };
        try
        {
            var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { text = Payload.Text });
            Func<string, Func<Task>> post = path => async () =>
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                using var response = await httpClient.PostAsync(path, content).ConfigureAwait(false);
                var reply = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                if (!response.IsSuccessStatusCode || reply.Length == 0) throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(reply)}");
            };
            var request = new BenchRequest(Payload.Text);
            var drivers = new (string System, Func<Task> Call)[]
            {
                ("micro", () => client.Client.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, request)),
                ("gateway", post($"/{Servers.Service}/{Servers.Endpoint}")),
                ("aspnet", post("/plain")),
            };
            foreach (var (system, call) in drivers)
            {
                progress($"gateway {system}: warming up");
                await UntilAnswersAsync(call);
                await LoadRunner.RunAsync(system, "warm-up", 16, call, TimeSpan.Zero, o.Warmup * 2);
            }
            points.AddRange(await InterleavedAsync("gateway", drivers, o, progress));
        }
        finally { await client.StopAsync(); }
        return points;
    }

    private static string ServerKind(string system) => system switch
    {
        "micro" or "micro-typed" => "micro",
        "akka" => "akka",
        "grpc" => "grpc",
        "protoactor" => "proto",
        "floor" => "floor",
        _ => throw new ArgumentException($"no system '{system}': use micro, micro-typed, akka, grpc, protoactor or floor"),
    };

    /// <summary>The micro system's driver, on a client node of <paramref name="transport"/> (returned too, to ask what it ran).</summary>
    private static async Task<(Driver Driver, MicroService Client)> MicroDriverAsync(int port, string? transport)
    {
        var client = await ClientAsync(port, transport);
        var request = new BenchRequest(Payload.Text);
        return (new Driver(() => client.Client.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, request), () => client.StopAsync()), client);
    }

    /// <summary>One round trip of <paramref name="system"/> against its server, and how to let go of what it made.</summary>
    private static async Task<Driver> DriverAsync(string system, int port)
    {
        switch (system)
        {
            case "micro":
                return (await MicroDriverAsync(port, transport: null)).Driver;
            case "micro-typed":
            {
                var client = await ClientAsync(port);
                var bench = Contracts.ContractExtensions.For<IBench>(client.Client);
                var request = new BenchRequest(Payload.Text);
                return new Driver(() => bench.Echo(request), () => client.StopAsync());
            }
            case "akka":
            {
                var raw = await RawClientAsync(port, streams: false);
                IActorRef echo;
                try { echo = await raw.ActorSelection($"akka.tcp://bench@127.0.0.1:{port}/user/echo").ResolveOne(Startup); }
                catch
                {
                    await raw.Terminate();
                    throw;
                }
                var request = new BenchRequest(Payload.Text);
                var timeout = TimeSpan.FromSeconds(5);
                return new Driver(() => echo.Ask<BenchReply>(request, timeout), () => raw.Terminate());
            }
            case "grpc":
            {
                var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}",
                    new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
                var grpc = new Echo.EchoClient(channel);
                var request = new EchoRequest { Text = Payload.Text };
                return new Driver(() => grpc.SayAsync(request).ResponseAsync, () => { channel.Dispose(); return Task.CompletedTask; });
            }
            case "protoactor":
            {
                var proto = new Proto.ActorSystem().WithRemote(RemoteConfig.BindTo("127.0.0.1", 0).WithProtoMessages(BenchReflection.Descriptor));
                await proto.Remote().StartAsync();
                var pid = Proto.PID.FromAddress($"127.0.0.1:{port}", "echo");
                var request = new EchoRequest { Text = Payload.Text };
                return new Driver(() => proto.Root.RequestAsync<EchoReply>(pid, request, Proto.CancellationTokens.FromSeconds(5)), () => proto.Remote().ShutdownAsync());
            }
            case "floor":
            {
                var floor = await Floor.ConnectAsync(port);
                return new Driver(floor.CallAsync, () => { floor.Close(); return Task.CompletedTask; });
            }
            default:
                throw new ArgumentException($"no system '{system}'");
        }
    }

    /// <summary>
    /// Events delivered per second from this node to a subscriber node. The publisher keeps at most
    /// a window of events ahead of what the subscriber has counted, so the figure is delivery, not
    /// how fast a mailbox can fill.
    /// </summary>
    public static async Task<List<Point>> PubSubAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        foreach (var system in new[] { "micro", "akka" })
        {
            progress($"pubsub {system}");
            var port = FreePort();
            using var server = await ChildProcess.StartAsync(Startup, "serve", system == "micro" ? "micro-sub" : "akka-sub", "--port", $"{port}");
            Func<object, Task> publish;
            Func<Task<long>> count;
            Func<Task> stop;
            if (system == "micro")
            {
                var client = await ClientAsync(port);
                await UntilAnswersAsync(() => client.Client.CallAsync<CountReply>(Servers.Subscriber, "Count.Get", new CountRequest()));
                await client.Broker.WaitForSubscribersAsync(Servers.Topic, Startup);
                publish = e => client.Client.PublishAsync(Servers.Topic, e);
                count = async () => (await client.Client.CallAsync<CountReply>(Servers.Subscriber, "Count.Get", new CountRequest())).Received;
                stop = () => client.StopAsync();
            }
            else
            {
                var raw = await RawClientAsync(port, streams: false);
                var mediator = DistributedPubSub.Get(raw).Mediator;
                var counter = await raw.ActorSelection($"akka.tcp://bench@127.0.0.1:{port}/user/counter").ResolveOne(Startup);
                publish = e => { mediator.Tell(new Publish(Servers.Topic, e)); return Task.CompletedTask; };
                count = async () => (await counter.Ask<CountReply>(new CountRequest(), TimeSpan.FromSeconds(5))).Received;
                stop = () => raw.Terminate();
                // Until the topic's subscriber is known here, published events go nowhere.
                await UntilAnswersAsync(async () =>
                {
                    var before = await count();
                    await publish(new BenchEvent(-1, Payload.Text));
                    var deadline = DateTime.UtcNow.AddMilliseconds(300);
                    while (await count() == before)
                        if (DateTime.UtcNow > deadline) throw new TimeoutException();
                });
            }
            try
            {
                points.Add(await PublishLoopAsync(system, publish, count, o));
            }
            finally { await stop(); }
        }
        return points;
    }

    /// <summary>
    /// Durable events: the same subscriber process and publish loop on DistributedPubSub, on NATS JetStream with acked
    /// publishes (one at a time, and 64 in flight) and fire-and-forget; a nats-server of its own (JetStream, a temporary
    /// store). Each point also gives the publish-to-handle latency the subscriber saw.
    /// </summary>
    public static async Task<List<Point>> DurableAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        var store = Directory.CreateTempSubdirectory("bench-nats-").FullName;
        var natsPort = FreePort();
        using var server = Process.Start(new ProcessStartInfo(File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server",
            ["-js", "-sd", store, "-a", "127.0.0.1", "-p", $"{natsPort}"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        server.ErrorDataReceived += (_, _) => { };
        server.BeginErrorReadLine();
        try
        {
            await UntilAnswersAsync(async () => { using var tcp = new System.Net.Sockets.TcpClient(); await tcp.ConnectAsync("127.0.0.1", natsPort); });
            foreach (var (system, nats, fireAndForget, inFlight) in new[] { ("pubsub", false, false, 1), ("nats-acked", true, false, 1), ("nats-acked", true, false, 64), ("nats-ff", true, true, 1) })
            {
                progress($"durable {system} {inFlight}");
                Environment.SetEnvironmentVariable(Servers.NatsVariable, nats ? $"nats://127.0.0.1:{natsPort}" : null);
                var port = FreePort();
                using var subscriber = await ChildProcess.StartAsync(Startup, "serve", "micro-sub", "--port", $"{port}");
                var client = await ClientAsync(port);
                try
                {
                    await UntilAnswersAsync(() => client.Client.CallAsync<CountReply>(Servers.Subscriber, "Count.Get", new CountRequest()));
                    await client.Broker.WaitForSubscribersAsync(Servers.Topic, Startup);
                    var options = new Micro.Actors.Broker.PublishOptions { FireAndForget = fireAndForget };
                    var point = await PublishLoopAsync(system, e => client.Client.PublishAsync(Servers.Topic, e, options),
                        async () => (await client.Client.CallAsync<CountReply>(Servers.Subscriber, "Count.Get", new CountRequest())).Received, o, inFlight,
                        () => client.Client.CallAsync<LatencyReply>(Servers.Subscriber, "Count.Latency", new LatencyRequest()));
                    points.Add(point with { Scenario = "durable" });
                }
                finally { await client.StopAsync(); }
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(Servers.NatsVariable, null);
            server.Kill();
            await server.WaitForExitAsync();
            Directory.Delete(store, recursive: true);
        }
        return points;
    }

    private static async Task<Point> PublishLoopAsync(string system, Func<object, Task> publish, Func<Task<long>> count, RunOptions o,
        int inFlight = 1, Func<Task<LatencyReply>>? latency = null)
    {
        const int window = 2_000;
        long published = 0, counted = await count(), start = counted;
        // A publisher that is a window ahead waits for the next count rather than spinning: on two
        // cores a spinning publisher takes the CPU the subscriber needs and the figure measures that.
        var refreshed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var countLoop = new CancellationTokenSource();
        var refresh = Task.Run(async () =>
        {
            while (!countLoop.IsCancelled())
            {
                Volatile.Write(ref counted, await count());
                Interlocked.Exchange(ref refreshed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                await Task.Delay(2);
            }
        });
        var pending = new Queue<Task>();
        async Task RunFor(TimeSpan span)
        {
            var end = Stopwatch.GetTimestamp() + (long)(span.TotalSeconds * Stopwatch.Frequency);
            var e = new BenchEvent(0, Payload.Text);
            while (Stopwatch.GetTimestamp() < end)
            {
                if (published - (Volatile.Read(ref counted) - start) >= window)
                {
                    await Volatile.Read(ref refreshed).Task.WaitAsync(TimeSpan.FromMilliseconds(50)).ContinueWith(_ => { });
                    continue;
                }
                if (inFlight == 1) await publish(e);
                else
                {
                    pending.Enqueue(publish(e));
                    if (pending.Count >= inFlight) await pending.Dequeue();
                }
                published++;
            }
        }
        await RunFor(o.Warmup);
        if (latency is not null) await latency(); // the warm-up's latencies are not counted
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var first = await count();
        var publishedBefore = published;
        var watch = Stopwatch.StartNew();
        await RunFor(o.Duration);
        var delivered = await count() - first;
        var elapsed = watch.Elapsed.TotalSeconds;
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        while (pending.Count > 0) await pending.Dequeue();
        countLoop.Cancel();
        await refresh;
        var seen = latency is null ? new LatencyReply(0, 0, 0) : await latency();
        return new Point(system, "pubsub", inFlight, delivered / elapsed, seen.P50Us, seen.P99Us, seen.MaxUs, (double)bytes / Math.Max(1, published - publishedBefore));
    }

    private static bool IsCancelled(this CancellationTokenSource cts) => cts.IsCancellationRequested;

    /// <summary>
    /// Items per second through one server stream from a server process to this one: a Micro.Actors
    /// server stream against a raw Akka.Streams stream ref of the same replies between plain Akka nodes.
    /// </summary>
    public static async Task<List<Point>> StreamAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        foreach (var system in new[] { "micro", "akka" })
        {
            progress($"stream {system}");
            var port = FreePort();
            using var server = await ChildProcess.StartAsync(Startup, "serve", system == "micro" ? "micro-stream" : "akka-stream", "--port", $"{port}");
            Func<TimeSpan, Task<long>> readFor;
            Func<Task> stop;
            if (system == "micro")
            {
                var client = await ClientAsync(port);
                stop = () => client.StopAsync();
                await UntilAnswersAsync(async () => { await foreach (var _ in client.Client.StreamAsync<BenchReply>(Servers.Service, "Bench.Stream", new StreamRequest(1))) { } });
                // Reads until the time is up, then cancels: the count is what crossed in that time.
                readFor = async span =>
                {
                    long items = 0;
                    using var cancel = new CancellationTokenSource(span);
                    try
                    {
                        await foreach (var _ in client.Client.StreamAsync<BenchReply>(Servers.Service, "Bench.Stream", new StreamRequest(int.MaxValue), cancellationToken: cancel.Token))
                            items++;
                    }
                    catch (OperationCanceledException) { }
                    return items;
                };
            }
            else
            {
                var raw = await RawClientAsync(port, streams: true);
                stop = () => raw.Terminate();
                var materializer = raw.Materializer();
                var streamer = await raw.ActorSelection($"akka.tcp://bench@127.0.0.1:{port}/user/streamer").ResolveOne(Startup);
                readFor = async span =>
                {
                    long items = 0;
                    var source = await streamer.Ask<Akka.Streams.ISourceRef<BenchReply>>(new StreamRequest(int.MaxValue), Startup);
                    var (kill, done) = source.Source.ViaMaterialized(Akka.Streams.KillSwitches.Single<BenchReply>(), Akka.Streams.Dsl.Keep.Right)
                        .ToMaterialized(Akka.Streams.Dsl.Sink.ForEach<BenchReply>(_ => Interlocked.Increment(ref items)), Akka.Streams.Dsl.Keep.Both)
                        .Run(materializer);
                    try { await Task.Delay(span, CancellationToken.None); }
                    finally { kill.Shutdown(); }
                    await done;
                    return Interlocked.Read(ref items);
                };
            }
            try
            {
                await readFor(o.Warmup);
                var allocated = GC.GetTotalAllocatedBytes(precise: true);
                var watch = Stopwatch.StartNew();
                var read = await readFor(o.Duration);
                var elapsed = watch.Elapsed.TotalSeconds;
                var bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
                points.Add(new Point(system, "stream", 1, read / elapsed, 0, 0, 0, (double)bytes / Math.Max(1, read)));
            }
            finally { await stop(); }
        }
        return points;
    }

    /// <summary>Seconds from starting a service process to the first answered call from this node.</summary>
    public static async Task<List<Point>> JoinAsync(RunOptions o, Action<string> progress)
    {
        progress("join");
        var samples = new List<double>();
        for (var i = 0; i < o.JoinSamples; i++) // a fresh cluster each time: a killed member would hold up the next join
        {
            var seed = Servers.Node(null, FreePort(), null);
            await seed.StartAsync();
            await seed.WhenUpAsync().WaitAsync(Startup);
            var watch = Stopwatch.StartNew();
            using var service = ChildProcess.Start("serve", "micro", "--port", $"{FreePort()}", "--seed", seed.Address);
            try
            {
                await UntilAnswersAsync(() => seed.Client.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, new BenchRequest(Payload.Text),
                    new CallOptions { Timeout = TimeSpan.FromSeconds(1), Retries = 0 }));
                samples.Add(watch.Elapsed.TotalSeconds);
            }
            finally { await seed.StopAsync(); } // leaves while the service still runs, so the leave completes at once
        }
        samples.Sort();
        return [new Point("micro", "join", 1, 0, 0, 0, 0, 0, samples[samples.Count / 2], $"s (median of {samples.Count})")];
    }

    /// <summary>Resident memory of an idle service process and of a bare Akka cluster node.</summary>
    public static async Task<List<Point>> MemoryAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        foreach (var (system, kind) in new[] { ("micro", "micro-idle"), ("akka", "akka-idle") })
        {
            progress($"memory {system}");
            using var node = await ChildProcess.StartAsync(Startup, "serve", kind, "--port", $"{FreePort()}");
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, o.Duration.TotalSeconds))); // let start-up settle
            points.Add(new Point(system, "memory", 0, 0, 0, 0, 0, 0, node.Rss() / 1048576.0, "MiB RSS idle"));
        }
        return points;
    }

    /// <summary>
    /// N service nodes, each its own process, joined through this process's client node: the time until the
    /// client's registry lists all N Up with their descriptors, each process's memory, the CPU an idle node
    /// spends (mostly Akka's own: its scheduler, heartbeats, gossip), and the client's round trips spread over the N.
    /// </summary>
    public static async Task<List<Point>> ScaleAsync(RunOptions o, Action<string> progress)
    {
        var points = new List<Point>();
        foreach (var n in o.ScaleSizes)
        {
            progress($"scale {n} nodes");
            var client = Servers.Node(null, FreePort(), null);
            await client.StartAsync();
            var nodes = new List<ChildProcess>();
            try
            {
                await client.WhenUpAsync().WaitAsync(Startup);
                var watch = Stopwatch.StartNew();
                for (var i = 0; i < n; i++)
                    nodes.Add(ChildProcess.Start("serve", "micro", "--port", $"{FreePort()}", "--seed", client.Address));
                var deadline = TimeSpan.FromSeconds(30 + 10 * n); // 2 cores start the processes one after another
                try { await Task.WhenAll(nodes.Select(x => x.Ready)).WaitAsync(deadline); }
                catch (Exception e)
                {
                    var late = nodes.First(x => !x.Ready.IsCompletedSuccessfully);
                    throw new InvalidOperationException($"{nodes.Count(x => x.Ready.IsCompletedSuccessfully)} of {n} node processes served within {deadline.TotalSeconds} s ({e.Message}); one that did not:\n{late.Describe()}");
                }
                var started = watch.Elapsed.TotalSeconds;
                while ((await client.Registry.GetServiceAsync(Servers.Service))?.Nodes.Count(x => x.Status == Registry.NodeStatus.Up) != n)
                {
                    if (watch.Elapsed > deadline) throw new TimeoutException($"the client's registry did not list {n} nodes within {deadline.TotalSeconds} s");
                    await Task.Delay(10);
                }
                var registry = watch.Elapsed.TotalSeconds;
                // Start-up (the JIT's second tier, Akka's first gossip rounds) takes the cores for a while after the
                // processes serve; idle CPU and the calls are measured once it has died down.
                var window = TimeSpan.FromSeconds(Math.Min(5, o.Duration.TotalSeconds));
                var settle = Stopwatch.StartNew();
                while (settle.Elapsed < TimeSpan.FromSeconds(30) && await IdleCpuAsync(nodes, TimeSpan.FromSeconds(Math.Min(1, window.TotalSeconds))) > 0.10) { } // an idle Akka node alone spends ~5 %
                var idle = await IdleCpuAsync(nodes, window);
                var request = new BenchRequest(Payload.Text);
                var point = await LoadRunner.RunAsync("micro", $"scale-{n}", 16,
                    () => client.Client.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, request), o.Warmup * 3, o.Duration);
                points.Add(point);
                points.Add(new Point("micro", $"scale-{n}-started", 0, 0, 0, 0, 0, 0, started, "s until every node process serves"));
                points.Add(new Point("micro", $"scale-{n}-registry", 0, 0, 0, 0, 0, 0, registry, "s until the client's registry lists every node"));
                points.Add(new Point("micro", $"scale-{n}-memory", 0, 0, 0, 0, 0, 0, nodes.Average(x => x.Rss()) / 1048576.0, "MiB RSS per node process"));
                points.Add(new Point("micro", $"scale-{n}-idle-cpu", 0, 0, 0, 0, 0, 0, idle * 100, "% of a core per idle node process"));
            }
            finally
            {
                await client.StopAsync(); // first: a client that leaves while the nodes run leaves at once
                foreach (var node in nodes) node.Dispose();
            }
        }
        return points;
    }

    /// <summary>The mean share of a core each process spends over <paramref name="window"/> while nothing calls it.</summary>
    private static async Task<double> IdleCpuAsync(List<ChildProcess> nodes, TimeSpan window)
    {
        var before = nodes.Select(x => x.Cpu()).ToList();
        var watch = Stopwatch.StartNew();
        await Task.Delay(window);
        var spent = nodes.Select((x, i) => (x.Cpu() - before[i]).TotalSeconds).Average();
        return spent / watch.Elapsed.TotalSeconds;
    }
}
