using Micro.Actors.Server;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.Contracts;

/// <summary>
/// Where a contract's implementation comes from for each request: the one instance given; the
/// request's DI scope when the class is registered there (the scope disposes it); made per request
/// with constructor injection from that scope otherwise (as ASP.NET Core makes controllers, and
/// disposed after the request); or, on a node without DI, made with its parameterless constructor.
/// </summary>
internal sealed class Implementation<TContract>(Func<RequestContext, TContract> make, bool owned) where TContract : class
{
    public TContract Get(RequestContext context, out object? release)
    {
        var instance = make(context);
        release = owned ? instance : null;
        return instance;
    }

    public static Implementation<TContract> Of(TContract instance) => new(_ => instance, owned: false);

    public static Implementation<TContract> Of<TImplementation>(IServiceProvider? provider) where TImplementation : class, TContract
    {
        HandlerServices.CheckConstructible(typeof(TImplementation), provider);
        if (provider is null) return new(_ => Activator.CreateInstance<TImplementation>(), owned: true);
        if (provider.GetService<IServiceProviderIsService>()?.IsService(typeof(TImplementation)) == true)
            return new(context => context.Services.GetRequiredService<TImplementation>(), owned: false);
        return new(Factory<TImplementation>(), owned: true);
    }

    /// <summary>A compiled constructor call; when several constructors fit, DI's own choice per request (the longest it can fill).</summary>
    private static Func<RequestContext, TContract> Factory<TImplementation>() where TImplementation : class, TContract
    {
        try
        {
            var factory = ActivatorUtilities.CreateFactory<TImplementation>([]);
            return context => factory(context.Services, null);
        }
        catch (InvalidOperationException)
        {
            return context => ActivatorUtilities.CreateInstance<TImplementation>(context.Services);
        }
    }
}

internal static class Implementation
{
    /// <summary>Disposes an implementation made for one request (none when the scope or the caller owns it).</summary>
    public static ValueTask ReleaseAsync(object? owned)
    {
        switch (owned)
        {
            case IAsyncDisposable async: return async.DisposeAsync();
            case IDisposable disposable: disposable.Dispose(); return ValueTask.CompletedTask;
            default: return ValueTask.CompletedTask;
        }
    }
}
