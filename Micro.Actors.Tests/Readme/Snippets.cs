// The C# of README.md, compiled: each ```csharp block there is the text of the regions it names
// (<!-- snippet: name -->), checked by ReadmeTests. Edit a snippet here, then copy it into the README.
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using Akka.Streams.Dsl;
using Micro.Actors.AspNetCore;
using Micro.Actors.Broker;
using System.Diagnostics;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Health;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Metadata;
using Micro.Actors.Nats;
using Micro.Actors.Samples.Greeter.Proto;
using Micro.Actors.Streaming;
using Micro.Actors.Wrappers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Micro.Actors.Tests.Readme.Hosted
{
    public sealed record HelloRequest(string Name);
    public sealed record HelloReply(string Message, string Node);

    public interface IGreeting { string Greet(string name); }
    public sealed class Greeting : IGreeting { public string Greet(string name) => $"Hello {name}"; }
    public sealed class Visits { public void Count(string name) { } }

    #region hosted-handler
    // Made by DI: constructor parameters are injected (a singleton stays one; a scoped service lives as
    // long as the actor). Request.Services is this request's own scope, disposed once it is answered.
    public sealed class GreeterHandler : MicroHandler
    {
        public GreeterHandler(IGreeting greeting, ILogger<GreeterHandler> log)
        {
            Receive<HelloRequest>(r =>
            {
                Request.Services.GetRequiredService<Visits>().Count(r.Name);   // scoped: new for this request
                log.LogInformation("Greeting {Name}", r.Name);                  // the request id is in the log scope
                Sender.Tell(new HelloReply(greeting.Greet(r.Name), "…"));
            });
        }
    }
    #endregion

    public static class WebApp
    {
        public static void Run(string[] args)
        {
            #region hosted-service
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddSingleton<IGreeting, Greeting>().AddScoped<Visits>();
            builder.Services.AddMicroService("greeter", service => service
                .Handle<GreeterHandler>("Greeter", e => e.Map<HelloRequest, HelloReply>("Hello"))
                .Handle<HelloRequest, string>("Greeter.Ping", (r, ctx) => Task.FromResult("pong"))); // functions: ctx.Services
            builder.Services.AddHealthChecks().AddMicroHealthChecks();   // liveness and readiness
            builder.Services.AddMicroProblemDetails();                   // MicroException -> RFC 7807

            var app = builder.Build();
            app.UseExceptionHandler();
            app.MapGet("/hello/{name}", (string name, IClient client) =>  // IClient, IRegistry, IBroker are injected
                client.CallAsync<HelloReply>("greeter", "Greeter.Hello", new HelloRequest(name)));
            app.MapMicroHealthChecks();                                  // /health/live, /health/ready
            app.Run();   // starts the node with the app, stops it after the app's last request
            #endregion
        }

        public static void Client(WebApplicationBuilder builder)
        {
            #region hosted-client
            builder.Services.AddMicroClient();                          // a node that only calls
            builder.Services.AddMicroService("orders", s => s.Subscribe<OrderPlaced>("orders", async (order, e) =>
            {
                var db = e.Services.GetRequiredService<OrdersDb>();       // a scope per event
                await db.SaveAsync(order);
            }), o => o.Version = "2.1.0");                             // code wins over configuration
            #endregion
        }

        public static void Gateway(string[] args)
        {
            #region gateway
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddMicroClient();                           // the gateway's node only calls
            builder.Services.AddMicroApi(o => o.MetadataHeaders = ["X-Request-Id"]);   // or Micro:Api in configuration

            var app = builder.Build();
            app.UseWebSockets();                                         // client and bidirectional streams
            app.MapMicroApi("/api");                                     // POST /api/greeter/Greeter.Hello, /api/openapi.json …
            app.MapMicroDashboard("/ui", apiPrefix: "/api")              // its forms call the gateway there
                .RequireAuthorization();                                 // your authentication (AddAuthentication, AddAuthorization)
            app.Run();
            #endregion
        }

        public static void Observed(WebApplicationBuilder builder)
        {
            #region observability
            builder.Services.AddMicroService("greeter", s => s.Handle<GreeterHandler>("Greeter", e => e.Map<HelloRequest, HelloReply>("Hello")));
            builder.Services.AddOpenTelemetry()                     // OpenTelemetry.Extensions.Hosting
                .ConfigureResource(r => r.AddService("greeter"))
                .WithTracing(t => t.AddOtlpExporter())               // the node's spans join by themselves
                .WithMetrics(m => m.AddOtlpExporter());              // and its metrics; or AddPrometheusExporter()

            // Without a host: Sdk.CreateTracerProviderBuilder().AddMicroInstrumentation()…, the same on a MeterProviderBuilder.
            #endregion
        }

        public static void OwnAkka(WebApplicationBuilder builder)
        {
            #region hosted-akka
            builder.Services.AddMicroService("inventory", s => s.Handle<GreeterHandler>("Stock", e => e.Map<HelloRequest, HelloReply>("Get")),
                    o => o.Config = "akka.cluster.roles = [\"backend\"]")       // your roles stay, beside the service's
                .WithAkka((akka, services) => akka.WithActors((system, registry) =>
                    registry.Register<AuditLog>(system.ActorOf(Props.Create<AuditLog>(), "audit"))));   // then IRequiredActor<AuditLog>
            #endregion
        }
    }

    public sealed record OrderPlaced(int Id);
    public sealed class OrdersDb { public Task SaveAsync(OrderPlaced order) => Task.CompletedTask; }
    public sealed class AuditLog : ReceiveActor { }
}

namespace Micro.Actors.Tests.Readme.Plain
{
    public sealed record AuditEvent(string Who, string What);
    public sealed record PingRequest;
    public sealed record OrderPlaced(int Id);
    public sealed record CountRequest(int To);
    public sealed record CountReply(int N);
    public sealed record ChatMessage(string Text);
    public sealed record Sample(double Value);
    public sealed record Summary(double Total);

    #region service-types
    public sealed record HelloRequest(string Name);
    public sealed record HelloReply(string Message, string Node);

    // A handler is an actor: receive the request, reply to Sender.
    public sealed class GreeterHandler : MicroHandler
    {
        public GreeterHandler()
        {
            Receive<HelloRequest>(r => Sender.Tell(new HelloReply($"Hello {r.Name}", "…")));
            // Request.Id, Request.Headers, Request.Deadline, Request.Cancellation are at hand.
        }
    }
    #endregion

    public sealed class CountingActor : ReceiveActor { }

    public static class Snippets
    {
        public static async Task Service()
        {
            #region service-run
            var service = MicroService.Create("greeter", o => { o.Version = "1.0.0"; o.Port = 4053; })
                .Handle<GreeterHandler>("Greeter", e => e
                    .Map<HelloRequest, HelloReply>("Hello")     // endpoint Greeter.Hello
                    .Map<AuditEvent>("Audit"))                  // one-way endpoint Greeter.Audit
                .Handle<PingRequest, string>("Health.Ping", (req, ctx) => Task.FromResult("pong")); // a plain async function
            await service.RunAsync();   // until Ctrl+C / SIGTERM, then a graceful leave
            #endregion
        }

        public static async Task Client()
        {
            #region client
            await using var node = MicroService.CreateClient(o => o.SeedNodes.Add("127.0.0.1:4053"));   // any free port
            await node.StartAsync();
            var reply = await node.Client.CallAsync<HelloReply>("greeter", "Greeter.Hello", new HelloRequest("Ann"));
            await node.Client.TellAsync("greeter", "Greeter.Audit", new AuditEvent("ann", "logged in"));
            var services = await node.Registry.ListServicesAsync();
            #endregion
        }

        public static async Task PubSub(MicroService service, MicroService node, Func<OrderPlaced, EventContext, Task> handler)
        {
            #region pubsub
            // in a service: a function (or a MicroSubscriber actor: Subscribe<TActor, T>(topic, queue))
            service.Subscribe<OrderPlaced>("orders", async (order, e) => { /* e.Topic, e.Id, e.Headers, e.PublishedUtc */ }, queue: "billing");

            // from any node
            await node.Client.PublishAsync("orders", new OrderPlaced(42));
            await node.Broker.WaitForSubscribersAsync("orders", TimeSpan.FromSeconds(10));   // readiness
            await node.Client.PublishAsync("orders", new OrderPlaced(43),
                new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(5) });       // 404 if nobody appears in time
            var subscription = await node.Broker.SubscribeAsync<OrderPlaced>("orders", handler); // at run time
            await subscription.UnsubscribeAsync();
            #endregion
        }

        public static async Task DurableEvents(WebApplicationBuilder builder, MicroService node, Func<OrderPlaced, EventContext, Task> handler)
        {
            #region durable-events
            // appsettings.json: { "Micro": { "Broker": "nats", "Nats": { "Url": "nats://127.0.0.1:4222" } } }
            builder.Services.AddMicroNats();                              // micro.broker = nats is then on offer
            builder.Services.AddMicroService("billing", s => s.Subscribe<OrderPlaced>("orders", handler, queue: "billing"));

            await node.Client.PublishAsync("orders", new OrderPlaced(42),
                new PublishOptions { Id = "order-42" });                  // completes once stored; a retry with the id is stored once
            await using var replay = await node.Broker.SubscribeAsync("orders", handler,
                new SubscribeOptions { Queue = "reports", From = StartPosition.All }, CancellationToken.None);
            await using var failed = await node.Broker.SubscribeAsync(NatsBroker.DeadLetterTopic("orders"), handler,
                new SubscribeOptions { From = StartPosition.All }, CancellationToken.None);   // Micro-Dead-Letter-Reason says why
            #endregion
        }

        public static void Wrappers(string secret, ILogger log)
        {
            #region wrappers
            var service = MicroService.Create("greeter", o => o.Wrappers
                .AddHandler(BearerToken.Require(secret))                  // 401 without "Authorization: Bearer <secret>"
                .AddHandler(EndpointLimit.Concurrency(64), "Greeter")     // the Greeter group only: 429 beyond 64 at once per endpoint
                .AddHandler(async (h, next) =>                            // your own: act before and after, or answer in its place
                {
                    var started = Stopwatch.GetTimestamp();
                    try { return await next(h); }
                    finally { log.LogInformation("{Endpoint} took {Elapsed}", h.Endpoint, Stopwatch.GetElapsedTime(started)); }
                }));
            var client = MicroService.CreateClient(o => o.Wrappers
                .AddClient(BearerToken.Send(secret))                      // around each call, all its retries
                .AddCall((call, next) =>                                  // around each attempt, on its node
                {
                    call.Headers["x-tried"] = $"{call.Attempt}@{call.Node!.HostPort}";
                    return next(call);
                }));
            #endregion
        }

        public static void Metadata(MicroService service, IClient client)
        {
            #region metadata
            service.Handle<HelloRequest, HelloReply>("Greeter.Hello", async (r, ctx) =>
            {
                // ctx.Headers came with the request; they go on into the calls and publishes made here, by themselves.
                await client.CallAsync<HelloReply>("profiles", "Profiles.Get", r);
                using (MetadataContext.With("hop", "greeter"))            // added for what is called in this scope
                    await client.PublishAsync("greeted", new OrderPlaced(1));
                using (MetadataContext.Suppress())                        // nothing flows (or CallOptions.PropagateMetadata = false)
                    await client.TellAsync("audit", "Audit.Log", new AuditEvent("greeter", r.Name));
                return new HelloReply($"Hello {r.Name}", "…");
            });
            #endregion
        }

        public static async Task Protobuf(MicroService node)
        {
            #region protobuf
            // GreetRequest and GreetReply are generated from a .proto (Grpc.Tools or protoc); the endpoint is served as any other.
            var reply = await node.Client.CallAsync<GreetReply>("greeter", "Greeter.Greet", new GreetRequest { Name = "Ann" },
                new CallOptions { ContentType = ProtobufCodec.MediaType });
            #endregion
        }

        public static async Task Streaming(MicroService service, MicroService node, IAsyncEnumerable<Sample> samples, CancellationToken ct,
            Func<int, CancellationToken, IAsyncEnumerable<CountReply>> Count, Func<IAsyncEnumerable<ChatMessage>, CancellationToken, IAsyncEnumerable<ChatMessage>> Chat,
            Summary summary)
        {
            #region streaming
            // in a service (the greeter sample has both):
            service.HandleServerStream<CountRequest, CountReply>("Greeter.Count", (r, ctx) => Count(r.To, ctx.Cancellation));
            service.HandleBidiStream<ChatMessage, ChatMessage>("Greeter.Chat", (lines, ctx) => Chat(lines, ctx.Cancellation));
            service.HandleClientStream<Sample, Summary>("Stats.Sum", async (samples, ctx) => { /* await foreach … */ return summary; });
            // or an actor per stream: it gets a StreamCall<TRequest> and replies with a Source<TResponse, NotUsed>
            service.HandleStream<CountingActor, CountRequest, CountReply>("Counter.Count", StreamKind.Server);

            // from any node: plain IAsyncEnumerable, cancelled with a CancellationToken
            await foreach (var n in node.Client.StreamAsync<CountReply>("greeter", "Greeter.Count", new CountRequest(10), cancellationToken: ct))
                Console.WriteLine(n.N);
            var chat = Channel.CreateUnbounded<ChatMessage>();   // a writer: chat.Writer.WriteAsync(…), then Complete()
            await foreach (var reply in node.Client.StreamAsync<ChatMessage, ChatMessage>("greeter", "Greeter.Chat", chat.Reader.ReadAllAsync()))
                Console.WriteLine(reply.Text);
            var sum = await node.Client.ClientStreamAsync<Sample, Summary>("stats", "Stats.Sum", samples);
            #endregion
        }
    }
}

namespace Micro.Actors.Tests.Readme.Typed
{
    using System.Runtime.CompilerServices;
    using Micro.Actors.Contracts;
    using Micro.Actors.Errors;

    #region contract
    public sealed record HelloRequest(string Name);
    public sealed record HelloReply(string Message);
    public sealed record AuditEvent(string Who, string What);
    public sealed record CountRequest(int To);
    public sealed record CountReply(int N);
    public sealed record ChatLine(string Text);
    public sealed record Number(int Value);
    public sealed record Total(int Sum);

    // The service's contract, shared by callers and the service (a contracts project). At compile time the
    // source generator writes its typed client and its server binding: no strings, no reflection at run time.
    [MicroService("greeter", Version = "1.0.0")]
    public interface IGreeter
    {
        Task<HelloReply> Hello(HelloRequest request, CancellationToken ct = default);               // request/reply
        Task Audit(AuditEvent audit, CancellationToken ct = default);                               // one-way
        IAsyncEnumerable<CountReply> Count(CountRequest request, CancellationToken ct = default);    // server stream
        Task<Total> Sum(IAsyncEnumerable<Number> numbers, CancellationToken ct = default);          // client stream
        IAsyncEnumerable<ChatLine> Chat(IAsyncEnumerable<ChatLine> lines, CancellationToken ct = default); // bidirectional
    }
    #endregion

    #region contract-implementation
    // Made by DI for each request (constructor injection; a scoped service is the request's own).
    public sealed class GreeterService(ILogger<GreeterService> log) : IGreeter
    {
        public Task<HelloReply> Hello(HelloRequest request, CancellationToken ct = default) =>
            string.IsNullOrWhiteSpace(request.Name)
                ? throw MicroError.BadRequest("greeter", "name is empty").ToException()    // 400 at the caller
                : Task.FromResult(new HelloReply($"Hello {request.Name}"));

        public Task Audit(AuditEvent audit, CancellationToken ct = default)
        {
            log.LogInformation("{Who} {What}", audit.Who, audit.What);   // RequestId etc. in the log scope
            return Task.CompletedTask;
        }

        public async IAsyncEnumerable<CountReply> Count(CountRequest request, [EnumeratorCancellation] CancellationToken ct = default)
        {
            for (var n = 1; n <= request.To; n++) yield return new CountReply(n);   // ct: the caller stopped reading
            await Task.CompletedTask;
        }

        public async Task<Total> Sum(IAsyncEnumerable<Number> numbers, CancellationToken ct = default)
        {
            var sum = 0;
            await foreach (var n in numbers.WithCancellation(ct)) sum += n.Value;
            return new Total(sum);
        }

        public IAsyncEnumerable<ChatLine> Chat(IAsyncEnumerable<ChatLine> lines, CancellationToken ct = default) =>
            lines.Select(l => new ChatLine($"you said: {l.Text}"));
    }
    #endregion

    public static class TypedApps
    {
        public static void Hosted(string[] args)
        {
            #region contract-host
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddMicroService("greeter", configure: o => o.Version = "1.0.0")
                .Implement<IGreeter, GreeterService>()   // serves Greeter.Hello, Greeter.Audit, Greeter.Count …
                .AddClient<IGreeter>();                  // and injects its typed client (any node can)
            var app = builder.Build();
            app.MapGet("/hello/{name}", (string name, IGreeter greeter, CancellationToken ct) =>
                greeter.Hello(new HelloRequest(name), ct));
            app.Run();
            #endregion
        }

        public static async Task Plain(IAsyncEnumerable<Number> numbers)
        {
            #region contract-client
            await using var node = MicroService.CreateClient(o => o.SeedNodes.Add("127.0.0.1:4053"));
            await node.StartAsync();
            var greeter = node.Client.For<IGreeter>();                   // cheap: make one per call if you like
            var reply = await greeter.Hello(new HelloRequest("Ann"));
            await greeter.Audit(new AuditEvent("ann", "logged in"));    // handed to a node, no reply
            await foreach (var c in greeter.Count(new CountRequest(3))) Console.WriteLine(c.N);
            var total = await greeter.Sum(numbers);
            var patient = greeter.With(new CallOptions { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });   // per call
            #endregion
        }
    }
}
