using System.Runtime.CompilerServices;
using Micro.Actors.Contracts;
using Microsoft.Extensions.Logging;
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

/// <summary>
/// The greeter's contract: each method is an endpoint of the greeter service (Greeter.Hello …). The source
/// generator writes its typed client (<c>client.For&lt;IGreeter&gt;()</c>, or <c>AddClient&lt;IGreeter&gt;()</c> in DI)
/// and its server binding (<c>Implement&lt;IGreeter, GreeterHandler&gt;()</c>); string calls and <c>micro call</c>
/// reach the same endpoints.
/// </summary>
[MicroService(GreeterService.Name, Version = GreeterService.Version)]
public interface IGreeter
{
    /// <summary>Greets; an empty name is a 400.</summary>
    Task<HelloReply> Hello(HelloRequest request, CancellationToken cancellationToken = default);

    /// <summary>One-way: the greeter logs it.</summary>
    Task Audit(AuditEvent audit, CancellationToken cancellationToken = default);

    /// <summary>Takes its time, and stops when the caller's deadline passes (408).</summary>
    Task<HelloReply> Wait(WaitRequest request, CancellationToken cancellationToken = default);

    /// <summary>A server stream: 1 … To.</summary>
    IAsyncEnumerable<CountReply> Count(CountRequest request, CancellationToken cancellationToken = default);

    /// <summary>A bidirectional stream: each line answered as it comes.</summary>
    IAsyncEnumerable<ChatMessage> Chat(IAsyncEnumerable<ChatMessage> lines, CancellationToken cancellationToken = default);

    /// <summary>Protobuf messages (application/protobuf, and protobuf's JSON mapping for JSON callers).</summary>
    Task<Proto.GreetReply> Greet(Proto.GreetRequest request, CancellationToken cancellationToken = default);
}

/// <summary>The greeter's implementation: made by DI for each request (its greeting, logger and node injected).</summary>
public sealed class GreeterHandler(IGreeting greeting, ILogger<GreeterHandler> log, MicroService node) : IGreeter
{
    public Task<HelloReply> Hello(HelloRequest request, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(request.Name))
            throw Errors.MicroError.BadRequest("greeter", "name is empty: say who to greet").ToException();
        return Task.FromResult(new HelloReply(greeting.Greet(request.Name), node.Address));
    }

    public Task Audit(AuditEvent audit, CancellationToken cancellationToken = default)
    {
        // The request's id, service and endpoint are in the logging scope.
        log.LogInformation("Audit: {Who} {What}", audit.Who, audit.What);
        return Task.CompletedTask;
    }

    public async Task<HelloReply> Wait(WaitRequest request, CancellationToken cancellationToken = default)
    {
        log.LogInformation("Waiting {Milliseconds} ms", request.Milliseconds);
        // Stops waiting when the caller stops waiting (the deadline travels with the request).
        try { await Task.Delay(Math.Clamp(request.Milliseconds, 0, 60_000), cancellationToken); }
        catch (OperationCanceledException)
        {
            throw Errors.MicroError.Timeout("greeter", "stopped waiting: the caller's deadline passed").ToException();
        }
        return new HelloReply($"waited {request.Milliseconds} ms", node.Address);
    }

    public async IAsyncEnumerable<CountReply> Count(CountRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request.To < 0) throw Errors.MicroError.BadRequest("greeter", $"cannot count to {request.To}: give a number of 0 or more").ToException();
        for (var n = 1; n <= request.To; n++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new CountReply(n);
        }
        await Task.CompletedTask;
    }

    public async IAsyncEnumerable<ChatMessage> Chat(IAsyncEnumerable<ChatMessage> lines, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var line in lines.WithCancellation(cancellationToken)) yield return new ChatMessage($"you said: {line.Text}");
    }

    public Task<Proto.GreetReply> Greet(Proto.GreetRequest request, CancellationToken cancellationToken = default)
    {
        var message = string.Join(' ', ["Hello", .. request.Titles, request.Name]);
        if (request.Times > 1) message = string.Join(' ', Enumerable.Repeat(message, (int)Math.Min(request.Times, 10)));
        return Task.FromResult(new Proto.GreetReply { Message = message, Length = message.Length });
    }
}

public static class GreeterService
{
    public const string Name = "greeter";

    /// <summary>The version greeter nodes run, and their contract's (its typed clients call only nodes of it).</summary>
    public const string Version = "1.0.0";

    /// <summary>
    /// The greeter's endpoints, from its contract <see cref="IGreeter"/>: Greeter.Hello (request/reply), Greeter.Audit
    /// (one-way), Greeter.Wait, Greeter.Count (a server stream), Greeter.Chat (a bidirectional stream) and Greeter.Greet
    /// (protobuf messages), served by a <see cref="GreeterHandler"/> made for each request.
    /// </summary>
    public static MicroService AddGreeter(this MicroService service) => service.Implement<IGreeter, GreeterHandler>();
}
