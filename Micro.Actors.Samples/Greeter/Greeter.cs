using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Samples.Greeter;

public sealed record HelloRequest(string Name);

/// <summary>The greeting, and the node ("host:port") that served it.</summary>
public sealed record HelloReply(string Message, string Node);

public sealed record AuditEvent(string Who, string What);

/// <summary>Asks the greeter to take its time (deadline and drain demos).</summary>
public sealed record WaitRequest(int Milliseconds);

/// <summary>The greeter's handler: an actor that replies to its sender.</summary>
public sealed class GreeterHandler : MicroHandler
{
    public GreeterHandler()
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        var node = $"{self.Host}:{self.Port}";
        var log = Context.GetLogger();
        Receive<HelloRequest>(r =>
        {
            if (string.IsNullOrWhiteSpace(r.Name))
            {
                Sender.Tell(Errors.MicroError.BadRequest("greeter", "name is empty: say who to greet"));
                return;
            }
            Sender.Tell(new HelloReply($"Hello {r.Name}", node));
        });
        Receive<AuditEvent>(e => log.Info("Audit {0}: {1} {2}", Request.Id, e.Who, e.What));
        ReceiveAsync<WaitRequest>(async w =>
        {
            var sender = Sender;
            // Stops waiting when the caller stops waiting (the deadline travels with the request).
            try { await Task.Delay(Math.Clamp(w.Milliseconds, 0, 60_000), Request.Cancellation); }
            catch (OperationCanceledException)
            {
                sender.Tell(Errors.MicroError.Timeout("greeter", "stopped waiting: the caller's deadline passed"));
                return;
            }
            sender.Tell(new HelloReply($"waited {w.Milliseconds} ms", node));
        });
    }
}

public static class GreeterService
{
    public const string Name = "greeter";

    /// <summary>The greeter's endpoints: Greeter.Hello (request/reply) and Greeter.Audit (one-way).</summary>
    public static MicroService AddGreeter(this MicroService service) =>
        service.Handle<GreeterHandler>("Greeter", e => e
            .Map<HelloRequest, HelloReply>("Hello")
            .Map<AuditEvent>("Audit")
            .Map<WaitRequest, HelloReply>("Wait"));
}
