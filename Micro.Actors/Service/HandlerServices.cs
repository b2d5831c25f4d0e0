using System.Collections;
using System.Collections.Concurrent;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Service;

/// <summary>
/// What a node's handlers get from the application's dependency injection: their actors built with
/// constructor injection, a scope per request or event (as ASP.NET Core gives each HTTP request one),
/// and the request's id, service and endpoint in the logging scope of a handler's own logs.
/// Without a service provider (the plain <see cref="MicroService"/>), none of it costs anything.
/// </summary>
internal sealed class HandlerServices
{
    public static readonly HandlerServices None = new(null, "");

    private readonly ILogger? _scopes;

    public HandlerServices(IServiceProvider? provider, string serviceName)
    {
        ServiceName = serviceName;
        Provider = provider;
        ScopeFactory = provider?.GetService<IServiceScopeFactory>();
        _scopes = provider?.GetService<ILoggerFactory>()?.CreateLogger("Micro.Actors.Handler");
    }

    public IServiceProvider? Provider { get; }
    /// <summary>The node's service ("client" for a client-only node), for the logging scope of events.</summary>
    public string ServiceName { get; }
    public IServiceScopeFactory? ScopeFactory { get; }

    /// <summary>Puts the request's id, service and endpoint in the logging scope (disposing the result ends it).</summary>
    public IDisposable? BeginScope(string kind, string id, string service, string endpoint) =>
        _scopes?.BeginScope(new LogScope(kind, id, service, endpoint));

    /// <summary>
    /// How actors of <paramref name="type"/> are made: from DI (constructor injection, a scope per actor,
    /// disposed when it stops) when the node has a provider; else with its parameterless constructor.
    /// </summary>
    public static Props PropsFor(Type type, IServiceProvider? provider) =>
        Props.CreateBy(new ActorProducer(type, provider));

    /// <summary>Fails at registration, not at the first request, when an actor could never be made.</summary>
    public static void CheckConstructible(Type type, IServiceProvider? provider)
    {
        if (type.IsAbstract) throw new ArgumentException($"{type.Name} is abstract: register a class that can be made");
        if (provider is null && type.GetConstructor(Type.EmptyTypes) is null)
            throw new ArgumentException($"{type.Name} has no parameterless constructor: to inject its dependencies, give the node a service provider " +
                "(MicroServiceOptions.Services, or services.AddMicroService in Micro.Actors.Hosting)");
    }

    private sealed class ActorProducer(Type type, IServiceProvider? provider) : IIndirectActorProducer
    {
        private readonly ConcurrentDictionary<ActorBase, IServiceScope> _scopes = new(ReferenceEqualityComparer.Instance);

        public Type ActorType => type;

        public ActorBase Produce()
        {
            if (provider is not { } services) return (ActorBase)Activator.CreateInstance(type)!;
            var scope = services.CreateScope();
            try
            {
                var actor = (ActorBase)ActivatorUtilities.CreateInstance(scope.ServiceProvider, type);
                _scopes[actor] = scope;
                return actor;
            }
            catch
            {
                scope.Dispose();
                throw;
            }
        }

        public void Release(ActorBase actor)
        {
            if (_scopes.TryRemove(actor, out var scope)) DisposeQuietly(scope);
        }
    }

    /// <summary>Disposes a scope without blocking on its async disposables; a failing Dispose must not fail the call it served.</summary>
    public static void DisposeQuietly(object scope)
    {
        try
        {
            if (scope is IAsyncDisposable async)
            {
                var pending = async.DisposeAsync();
                if (!pending.IsCompletedSuccessfully) _ = pending.AsTask().ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            }
            else (scope as IDisposable)?.Dispose();
        }
        catch (Exception) { /* a service's own Dispose failed: the request is answered already */ }
    }

    /// <summary>The scope's fields, as logging providers read them (and its text, for those that print it).</summary>
    private sealed class LogScope(string kind, string id, string service, string endpoint) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _fields =
        [
            new(kind == "event" ? "EventId" : "RequestId", id),
            new("Service", service),
            new(kind == "event" ? "Topic" : "Endpoint", endpoint),
        ];

        public int Count => _fields.Length;
        public KeyValuePair<string, object?> this[int index] => _fields[index];
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => kind == "event" ? $"{service} event {id} on {endpoint}" : $"{service} {endpoint} request {id}";
    }
}
