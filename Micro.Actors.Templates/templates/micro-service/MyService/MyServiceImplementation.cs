using System.Runtime.CompilerServices;
using Micro.Actors.Errors;
using MyService.Contracts;

namespace MyService;

/// <summary>The service's implementation: made for each request by dependency injection (inject what it needs).</summary>
public sealed class MyServiceImplementation(ILogger<MyServiceImplementation> log) : IMyService
{
    public Task<HelloReply> Hello(HelloRequest request, CancellationToken cancellationToken = default)
    {
        // A MicroException travels to the caller with its code (400 here); any other exception is a 500.
        if (string.IsNullOrWhiteSpace(request.Name))
            throw MicroError.BadRequest("myservice", "name is empty: say who to greet").ToException();
        log.LogInformation("Greeting {Name}", request.Name);
        return Task.FromResult(new HelloReply($"Hello {request.Name}"));
    }

    public async IAsyncEnumerable<CountReply> Count(CountRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var n = 1; n <= request.To; n++)
        {
            cancellationToken.ThrowIfCancellationRequested(); // the caller stopped reading
            yield return new CountReply(n);
            await Task.Yield();
        }
    }
}
