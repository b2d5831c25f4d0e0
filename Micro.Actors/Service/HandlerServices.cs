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

    private readonly ILogger? _log;

    public HandlerServices(IServiceProvider? provider, string serviceName)
    {
        ServiceName = serviceName;
        _provider = provider;
        ScopeFactory = provider?.GetService<IServiceScopeFactory>();
        _log = provider?.GetService<ILoggerFactory>()?.CreateLogger("Micro.Actors.Handler");
    }

    /// <summary>The node's service ("client" for a client-only node), for the logging scope of events.</summary>
    public string ServiceName { get; }
    public IServiceScopeFactory? ScopeFactory { get; }

    /// <summary>Whether the node logs through a logger factory (a host's): only then are there scopes to begin.</summary>
    public bool Logs => _log is not null;

    /// <summary>
    /// Puts the request's id, service and endpoint in the logging scope (disposing the result ends it), and the
    /// trace and span id of its span (from <paramref name="headers"/>' <c>traceparent</c>, read as each line is logged).
    /// </summary>
    public IDisposable? BeginScope(string kind, string id, string service, string endpoint, Func<IReadOnlyDictionary<string, string>> headers) =>
        _log?.BeginScope(new LogScope(kind, id, service, endpoint, headers));

    /// <summary>
    /// How actors of <paramref name="type"/> are made: from DI (constructor injection, a scope per actor,
    /// disposed when it stops) when the node has a provider; else with its parameterless constructor.
    /// </summary>
    public Props PropsFor(Type type) =>
        Props.CreateBy(new ActorProducer(type, Provider, this));

    private IServiceProvider Provider => _provider ?? throw new InvalidOperationException("no service provider");
    private readonly IServiceProvider? _provider;

    /// <summary>Fails at registration, not at the first request, when an actor could never be made.</summary>
    public static void CheckConstructible(Type type, IServiceProvider? provider)
    {
        if (type.IsAbstract) throw new ArgumentException($"{type.Name} is abstract: register a class that can be made");
        if (provider is null)
        {
            if (type.GetConstructor(Type.EmptyTypes) is null)
                throw new ArgumentException($"{type.Name} has no parameterless constructor: to inject its dependencies, give the node a service provider " +
                    "(MicroServiceOptions.Services, or services.AddMicroService in Micro.Actors.Hosting)");
            return;
        }
        if (provider.GetService<IServiceProviderIsService>() is not { } known) return;
        var constructors = type.GetConstructors();
        if (constructors.Any(c => c.GetParameters().All(p => p.HasDefaultValue || known.IsService(p.ParameterType)))) return;
        var missing = constructors.OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()?.GetParameters()
            .Where(p => !p.HasDefaultValue && !known.IsService(p.ParameterType)).Select(p => p.ParameterType.Name) ?? [];
        throw new ArgumentException($"{type.Name} needs {string.Join(", ", missing)}, which the application's services do not have: " +
            "register it (services.AddSingleton, AddScoped or AddTransient)");
    }

    private sealed class ActorProducer(Type type, IServiceProvider provider, HandlerServices services) : IIndirectActorProducer
    {
        private readonly ConcurrentDictionary<ActorBase, IServiceScope> _scopes = new(ReferenceEqualityComparer.Instance);

        public Type ActorType => type;

        public ActorBase Produce()
        {
            var scope = provider.CreateScope();
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
            if (_scopes.TryRemove(actor, out var scope)) services.Dispose(scope, $"the {type.Name} actor");  // (once per actor)
        }
    }

    /// <summary>
    /// Disposes a scope without blocking on its async disposables. A service whose disposal fails (a
    /// commit on dispose, say) cannot fail the call it served any more, which is answered: it is logged.
    /// </summary>
    public void Dispose(IServiceScope scope, object owner) => DisposeScope(scope, e => LogDisposeFailure(e, Describe(owner)));

    /// <summary>What a scope belonged to, for a person reading the log.</summary>
    internal static string Describe(object owner) => owner switch
    {
        Server.RequestContext r => $"{r.Endpoint} request {r.Id}",
        Broker.EventContext e => $"event {e.Id} on {e.Topic}",
        _ => owner.ToString() ?? "",
    };

    private static void DisposeScope(IServiceScope scope, Action<Exception> failed)
    {
        try
        {
            if (scope is IAsyncDisposable async)
            {
                var pending = async.DisposeAsync();
                if (!pending.IsCompletedSuccessfully)
                    _ = pending.AsTask().ContinueWith(t => failed(t.Exception!.GetBaseException()), TaskContinuationOptions.OnlyOnFaulted);
            }
            else scope.Dispose();
        }
        catch (Exception e) { failed(e); }
    }

    private void LogDisposeFailure(Exception e, string what) =>
        _log?.LogError(e, "Disposing the services of {What} failed: {Error}", what, e.Message);

    /// <summary>
    /// The scope's fields, as logging providers read them (and its text, for those that print it); <c>TraceId</c>
    /// and <c>SpanId</c>, the names .NET's own activity tracking uses, when the request or event is traced.
    /// </summary>
    private sealed class LogScope(string kind, string id, string service, string endpoint, Func<IReadOnlyDictionary<string, string>> headers)
        : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private KeyValuePair<string, object?>[] Fields => Observability.Tracing.Ids(headers()) is var (trace, span)
            ?
            [
                new(kind == "event" ? "EventId" : "RequestId", id),
                new("Service", service),
                new(kind == "event" ? "Topic" : "Endpoint", endpoint),
                new("TraceId", trace),
                new("SpanId", span),
            ]
            :
            [
                new(kind == "event" ? "EventId" : "RequestId", id),
                new("Service", service),
                new(kind == "event" ? "Topic" : "Endpoint", endpoint),
            ];

        private KeyValuePair<string, object?>[]? _fields;
        private KeyValuePair<string, object?>[] Read => _fields ??= Fields;

        public int Count => Read.Length;
        public KeyValuePair<string, object?> this[int index] => Read[index];
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)Read).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => kind == "event" ? $"{service} event {id} on {endpoint}" : $"{service} {endpoint} request {id}";
    }
}
