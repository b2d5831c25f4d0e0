using Akka.Actor;
using Akka.Cluster;
using Microsoft.Extensions.Logging;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Samples.Greeter;

public sealed record HelloRequest(string Name);

/// <summary>The greeting, and the node ("host:port") that served it.</summary>
public sealed record HelloReply(string Message, string Node);

public sealed record AuditEvent(string Who, string What);

/// <summary>Greeter.Count streams <c>{"n":1}</c> … <c>{"n":To}</c>.</summary>
public sealed record CountRequest(int To);

public sealed record CountReply(int N);

/// <summary>A line of Greeter.Chat (bidirectional): the greeter answers each one as it comes.</summary>
public sealed record ChatMessage(string Text);

/// <summary>Asks the greeter to take its time (deadline and drain demos).</summary>
public sealed record WaitRequest(int Milliseconds);

/// <summary>How the greeter greets: a service of the application, injected into its handler.</summary>
public interface IGreeting
{
    string Greet(string name);
}

public sealed class Greeting : IGreeting
{
    public string Greet(string name) => $"Hello {name}";
}

/// <summary>The greeter's handler: an actor that replies to its sender, made by DI (its greeting and logger injected).</summary>
public sealed class GreeterHandler : MicroHandler
{
    public GreeterHandler(IGreeting greeting, ILogger<GreeterHandler> log)
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        var node = $"{self.Host}:{self.Port}";
        Receive<HelloRequest>(r =>
        {
            if (string.IsNullOrWhiteSpace(r.Name))
            {
                Sender.Tell(Errors.MicroError.BadRequest("greeter", "name is empty: say who to greet"));
                return;
            }
            Sender.Tell(new HelloReply(greeting.Greet(r.Name), node));
        });
        // The request's id, service and endpoint are in the logging scope.
        Receive<AuditEvent>(e => log.LogInformation("Audit: {Who} {What}", e.Who, e.What));
        ReceiveAsync<WaitRequest>(async w =>
        {
            var sender = Sender;
            log.LogInformation("Waiting {Milliseconds} ms", w.Milliseconds);
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

    /// <summary>
    /// The greeter's endpoints: Greeter.Hello (request/reply), Greeter.Audit (one-way), Greeter.Wait,
    /// Greeter.Count (a server stream), Greeter.Chat (a bidirectional stream) and Greeter.Greet (protobuf messages).
    /// </summary>
    public static MicroService AddGreeter(this MicroService service) =>
        service.Handle<GreeterHandler>("Greeter", e => e
                .Map<HelloRequest, HelloReply>("Hello")
                .Map<AuditEvent>("Audit")
                .Map<WaitRequest, HelloReply>("Wait"))
            .HandleServerStream<CountRequest, CountReply>("Greeter.Count", (r, context) => Count(r.To, context.Cancellation))
            .HandleBidiStream<ChatMessage, ChatMessage>("Greeter.Chat", (lines, context) => Chat(lines, context.Cancellation))
            .Handle<Proto.GreetRequest, Proto.GreetReply>("Greeter.Greet", (r, _) => Task.FromResult(Greet(r)));

    private static Proto.GreetReply Greet(Proto.GreetRequest request)
    {
        var message = string.Join(' ', ["Hello", .. request.Titles, request.Name]);
        if (request.Times > 1) message = string.Join(' ', Enumerable.Repeat(message, (int)Math.Min(request.Times, 10)));
        return new Proto.GreetReply { Message = message, Length = message.Length };
    }

    private static async IAsyncEnumerable<CountReply> Count(int to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        if (to < 0) throw Errors.MicroError.BadRequest("greeter", $"cannot count to {to}: give a number of 0 or more").ToException();
        for (var n = 1; n <= to; n++)
        {
            cancellation.ThrowIfCancellationRequested();
            yield return new CountReply(n);
        }
        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<ChatMessage> Chat(IAsyncEnumerable<ChatMessage> lines, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        await foreach (var line in lines.WithCancellation(cancellation)) yield return new ChatMessage($"you said: {line.Text}");
    }
}
