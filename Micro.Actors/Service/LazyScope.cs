using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.Service;

/// <summary>
/// The dependency-injection scope of one request or event: made on first use (from any thread), ended
/// once (its scoped services disposed). A struct, held in place by the request's or event's context:
/// a request that never asks for services costs no allocation.
/// </summary>
internal struct LazyScope
{
    private IServiceScope? _scope;
    private int _ended;

    /// <summary>The scope's services, made now if need be.</summary>
    public IServiceProvider Get(HandlerServices services, object owner)
    {
        if (Volatile.Read(ref _scope) is { } scope) return scope.ServiceProvider;
        var factory = services.ScopeFactory ?? throw new InvalidOperationException(
            "This node has no service provider: host it with services.AddMicroService (Micro.Actors.Hosting) or set MicroServiceOptions.Services");
        if (Volatile.Read(ref _ended) == 1) throw new InvalidOperationException($"{HandlerServices.Describe(owner)} is done: its services are disposed");
        var fresh = factory.CreateScope();
        scope = Interlocked.CompareExchange(ref _scope, fresh, null) ?? fresh;
        if (!ReferenceEquals(scope, fresh)) services.Dispose(fresh, owner);          // another thread made it first
        else if (Volatile.Read(ref _ended) == 1) End(services, owner);              // ended meanwhile: nothing may outlive it
        return scope.ServiceProvider;
    }

    /// <summary>Ends the scope: its scoped services are disposed (without blocking on their async disposal).</summary>
    public void End(HandlerServices services, object owner)
    {
        if (services.ScopeFactory is null) return; // no DI: there never is a scope
        Volatile.Write(ref _ended, 1);
        if (Interlocked.Exchange(ref _scope, null) is { } scope) services.Dispose(scope, owner);
    }
}
