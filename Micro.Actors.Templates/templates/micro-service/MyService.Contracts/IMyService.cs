using Micro.Actors.Contracts;

namespace MyService.Contracts;

public sealed record HelloRequest(string Name);
public sealed record HelloReply(string Message);
public sealed record CountRequest(int To);
public sealed record CountReply(int N);

/// <summary>
/// The myservice service. Each method is an endpoint (MyService.Hello, MyService.Count) that typed clients,
/// string calls (client.CallAsync) and the micro tool (micro call myservice MyService.Hello '{"name":"Ann"}') reach.
/// </summary>
[MicroService("myservice")]
public interface IMyService
{
    /// <summary>Request/reply.</summary>
    Task<HelloReply> Hello(HelloRequest request, CancellationToken cancellationToken = default);

    /// <summary>A server stream: 1 … To.</summary>
    IAsyncEnumerable<CountReply> Count(CountRequest request, CancellationToken cancellationToken = default);
}
