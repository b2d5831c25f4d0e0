using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Micro.Actors.Errors;
using Micro.Actors.Server;

namespace Micro.Actors.Client;

/// <summary>
/// The default <see cref="IClient"/>: each call goes through the router actor of its target service
/// on this node (one router per service, made on first use).
/// </summary>
public sealed class MicroClient : IClient
{
    /// <summary>The content type of calls between .NET nodes: the message object, carried by Hyperion.</summary>
    public const string DefaultContentType = "application/x-hyperion";

    private static readonly IReadOnlyDictionary<string, string> NoHeaders = ImmutableDictionary<string, string>.Empty;

    private readonly ActorSystem _system;
    private readonly IActorRef _registry;
    private readonly ClientDefaults _defaults;
    private readonly ConcurrentDictionary<string, Lazy<IActorRef>> _routers = new(StringComparer.Ordinal);
    private readonly Broker.IBroker _broker;

    internal MicroClient(ActorSystem system, IActorRef registry, ClientDefaults defaults, Broker.IBroker broker)
    {
        _system = system;
        _registry = registry;
        _defaults = defaults;
        _broker = broker;
    }

    public Task PublishAsync(string topic, object message, Broker.PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        _broker.PublishAsync(topic, message, options, cancellationToken);

    public async Task<TResponse> CallAsync<TResponse>(string service, string endpoint, object request,
        CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var body = await SendAsync(service, endpoint, request, options, oneWay: false, cancellationToken).ConfigureAwait(false);
        return body switch
        {
            TResponse typed => typed,
            null when default(TResponse) is null => default!,
            _ => throw MicroError.InternalServerError("micro.client",
                $"{service} {endpoint} replied with {body?.GetType().Name ?? "nothing"}, not the {typeof(TResponse).Name} the caller expects").ToException(),
        };
    }

    public Task TellAsync(string service, string endpoint, object message,
        CallOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync(service, endpoint, message, options, oneWay: true, cancellationToken);

    private Task<object?> SendAsync(string service, string endpoint, object body, CallOptions? options, bool oneWay,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(service))
            throw MicroError.BadRequest("micro.client", "no service named: give the service to call, e.g. \"greeter\"").ToException();
        if (string.IsNullOrWhiteSpace(endpoint) || endpoint.IndexOf('.') is <= 0 || endpoint.EndsWith('.'))
            throw MicroError.BadRequest("micro.client", $"'{endpoint}' is not an endpoint: use Group.Method, e.g. Greeter.Hello").ToException();
        ArgumentNullException.ThrowIfNull(body);
        options ??= CallOptions.Default;
        var timeout = options.Timeout ?? _defaults.RequestTimeout;
        if (timeout <= TimeSpan.Zero)
            throw MicroError.BadRequest("micro.client", $"timeout {timeout} must be longer than zero").ToException();

        var completion = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new Request(Guid.NewGuid().ToString("N"), service, endpoint, body, DefaultContentType,
            options.Headers ?? NoHeaders, timeout, oneWay);
        var router = RouterFor(service);
        router.Tell(new RouterActor.Call(request, options, DateTime.UtcNow + timeout, completion));
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => router.Tell(new RouterActor.Cancel(request.Id)));
            completion.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return completion.Task;
    }

    private IActorRef RouterFor(string service) =>
        _routers.GetOrAdd(service, s => new Lazy<IActorRef>(() =>
            _system.ActorOf(Props.Create(() => new RouterActor(s, _registry, _defaults)), "micro-router-" + Uri.EscapeDataString(s)))).Value;
}
