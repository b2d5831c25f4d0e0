using Micro.Actors.Nats;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Grpc.Core;
using Micro.Actors.AspNetCore;
using Micro.Actors.Benchmarks.Wire;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using Proto.Remote;
using Proto.Remote.GrpcNet;

namespace Micro.Actors.Benchmarks;

/// <summary>The server side of every point, run in its own process; each prints READY once it serves.</summary>
public static class Servers
{
    public const string Service = "bench";
    public const string Endpoint = "Bench.Echo";
    public const string Subscriber = "bench-sub";
    public const string Topic = "bench";

    /// <summary>Plain Akka with the same serializer and cluster settings as Micro.Actors' nodes and Akka's own transport, nothing of ours.</summary>
    public static Akka.Configuration.Config RawAkka(int port, bool joinSelf) => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.actor.provider = cluster
        akka.actor.serializers.hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
        akka.actor.serialization-bindings { "System.Object" = hyperion }
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{port}} }
        akka.extensions = ["Akka.Cluster.Tools.PublishSubscribe.DistributedPubSubExtensionProvider, Akka.Cluster.Tools"]
        akka.cluster.seed-nodes = [{{(joinSelf ? $"\"akka.tcp://bench@127.0.0.1:{port}\"" : "")}}]
        """);

    /// <summary>Set (to a URL): the nodes use the NATS broker there.</summary>
    public const string NatsVariable = "MICRO_BENCH_NATS";

    /// <summary>A node of the bench cluster; <paramref name="transport"/> (one of <see cref="Transports.All"/>) or micro.transport's default.</summary>
    public static MicroService Node(string? name, int port, string? seed, Action<MicroService>? register = null, string? transport = null)
    {
        Action<MicroServiceOptions> configure = o =>
        {
            o.ClusterName = "bench";
            o.Port = port;
            o.Config = "akka.loglevel = WARNING";
            o.AllowedTypes.Add("Micro.Actors.Benchmarks");
            if (seed is not null) o.SeedNodes.Add(seed);
            if (transport is not null) o.Config += "\n" + Transports.Hocon(transport);
            // The durable scenario's nodes publish and subscribe through NATS JetStream at this URL.
            if (Environment.GetEnvironmentVariable(NatsVariable) is { Length: > 0 } nats)
            {
                o.UseNats();
                o.Config += $"\nmicro.broker = nats\nmicro.nats.url = \"{nats}\"\nmicro.nats.stream.storage = file";
            }
        };
        var node = name is null ? MicroService.CreateClient(configure) : MicroService.Create(name, configure);
        register?.Invoke(node);
        return node;
    }

    private static async IAsyncEnumerable<BenchReply> Replies(int count)
    {
        var reply = new BenchReply(Payload.Text);
        for (var i = 0; i < count; i++) yield return reply;
        await Task.CompletedTask;
    }

    /// <summary>What a "micro" server's READY line says after this: the transport its node runs (see <see cref="Transports.Ran"/>).</summary>
    public const string RanMark = " ran ";

    public static async Task ServeAsync(string kind, int port, string? seed, string? transport = null)
    {
        var ready = $"READY {kind} {port}";
        switch (kind)
        {
            case "micro": // the Micro.Actors endpoint
            {
                var node = Node(Service, port, seed, s => s.Handle<EchoActor>("Bench", e => e.Map<BenchRequest, BenchReply>("Echo")), transport);
                await node.StartAsync();
                await node.WhenUpAsync();
                ready += RanMark + Transports.Ran(node);
                break;
            }
            case "akka": // the same actor class on a plain Akka node, for raw Ask
            {
                var system = Akka.Actor.ActorSystem.Create("bench", RawAkka(port, joinSelf: true));
                system.ActorOf(Props.Create<EchoActor>(), "echo");
                await WhenUp(system);
                break;
            }
            case "micro-stream": // a server-stream endpoint
            {
                var node = Node(Service, port, seed, s => s.HandleServerStream<StreamRequest, BenchReply>("Bench.Stream", (r, _) => Replies(r.Count)));
                await node.StartAsync();
                await node.WhenUpAsync();
                break;
            }
            case "akka-stream": // a raw stream-ref actor of the same replies on a plain Akka node
            {
                var system = Akka.Actor.ActorSystem.Create("bench", RawAkka(port, joinSelf: true).WithFallback(Akka.Streams.ActorMaterializer.DefaultConfig()));
                system.ActorOf(Props.Create<StreamerActor>(), "streamer");
                await WhenUp(system);
                break;
            }
            case "micro-sub":
            {
                long received = 0;
                var latencies = new List<double>();
                var node = Node(Subscriber, port, seed, s =>
                {
                    s.Subscribe<BenchEvent>(Topic, (_, e) =>
                    {
                        Interlocked.Increment(ref received);
                        var us = (DateTime.UtcNow - e.PublishedUtc).TotalMicroseconds;
                        lock (latencies) latencies.Add(us);
                        return Task.CompletedTask;
                    });
                    s.Handle<CountRequest, CountReply>("Count.Get", (_, _) => Task.FromResult(new CountReply(Interlocked.Read(ref received))));
                    s.Handle<LatencyRequest, LatencyReply>("Count.Latency", (_, _) =>
                    {
                        double[] all;
                        lock (latencies) { all = [.. latencies]; latencies.Clear(); }
                        Array.Sort(all);
                        double At(double q) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(q * all.Length))];
                        return Task.FromResult(new LatencyReply(At(0.5), At(0.99), all.Length == 0 ? 0 : all[^1]));
                    });
                });
                await node.StartAsync();
                await node.WhenUpAsync();
                break;
            }
            case "akka-sub":
            {
                var system = Akka.Actor.ActorSystem.Create("bench", RawAkka(port, joinSelf: true));
                var counter = system.ActorOf(Props.Create<CountingActor>(), "counter");
                DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(Topic, counter));
                await WhenUp(system);
                break;
            }
            case "micro-idle":
            {
                var node = Node("idle", port, seed, s => s.Handle<EchoActor>("Bench", e => e.Map<BenchRequest, BenchReply>("Echo")));
                await node.StartAsync();
                await node.WhenUpAsync();
                break;
            }
            case "akka-idle":
            {
                var system = Akka.Actor.ActorSystem.Create("bench", RawAkka(port, joinSelf: true));
                await WhenUp(system);
                break;
            }
            case "grpc":
            {
                var builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.Services.AddGrpc();
                builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
                var app = builder.Build();
                app.MapGrpcService<EchoService>();
                await app.StartAsync();
                break;
            }
            case "floor": // the machine's floor: a bare echo over TCP (Floor)
                await Floor.ServeAsync(port);
                break;
            case "proto":
            {
                var system = new Proto.ActorSystem().WithRemote(RemoteConfig.BindTo("127.0.0.1", port).WithProtoMessages(BenchReflection.Descriptor));
                await system.Remote().StartAsync();
                system.Root.SpawnNamed(Proto.Props.FromFunc(context =>
                {
                    if (context.Message is EchoRequest r) context.Respond(new EchoReply { Text = r.Text });
                    return Task.CompletedTask;
                }), "echo");
                break;
            }
            case "gateway": // the HTTP gateway on a client-only node of the bench cluster, and a plain endpoint beside it
            {
                var builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
                builder.Services.AddMicroClient(o =>
                {
                    o.ClusterName = "bench";
                    o.Config = "akka.loglevel = WARNING";
                    if (seed is not null) o.SeedNodes.Add(seed);
                });
                builder.Services.AddMicroApi();
                var app = builder.Build();
                app.MapMicroApi();
                // The same JSON in and out, without a call: what ASP.NET Core costs by itself.
                app.MapPost("/plain", (BenchRequest request) => new BenchReply(request.Text));
                await app.StartAsync();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                while (await app.Services.GetRequiredService<Micro.Actors.Registry.IRegistry>().GetServiceAsync(Service) is null)
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"the gateway's node did not see {Service} within 60 s");
                    await Task.Delay(50);
                }
                break;
            }
            default:
                throw new ArgumentException($"no server kind '{kind}'");
        }
        Console.WriteLine(ready);
        await Task.Delay(Timeout.Infinite); // the driver kills this process when done
    }

    public static Task WhenUp(Akka.Actor.ActorSystem system)
    {
        var up = new TaskCompletionSource();
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        return up.Task;
    }

    private sealed class EchoService : Echo.EchoBase
    {
        public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context) =>
            Task.FromResult(new EchoReply { Text = request.Text });
    }
}
