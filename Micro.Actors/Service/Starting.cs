using System.Diagnostics;
using System.Runtime.CompilerServices;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Registry;

namespace Micro.Actors.Service;

// A node's client, registry and broker exist from the moment the node does (so dependency injection
// can hand them out before the host starts the node); until the node has started, each call waits for
// it within its own deadline. Once started, they forward at the cost of one field read.

/// <summary>The node's <see cref="IClient"/>, usable before the node has started.</summary>
internal sealed class StartingClient(MicroService node) : IClient
{
    public Task<TResponse> CallAsync<TResponse>(string service, string endpoint, object request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.CallAsync<TResponse>(service, endpoint, request, options, cancellationToken)
            : CallLater<TResponse>(service, endpoint, request, options, cancellationToken);

    public Task TellAsync(string service, string endpoint, object message, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.TellAsync(service, endpoint, message, options, cancellationToken)
            : TellLater(service, endpoint, message, options, cancellationToken);

    // Apart from the calls above, so that a call on a started node makes no closure.
    private Task<TResponse> CallLater<TResponse>(string service, string endpoint, object request, CallOptions? options, CancellationToken cancellationToken) =>
        Later(options, cancellationToken, (c, o) => c.CallAsync<TResponse>(service, endpoint, request, o, cancellationToken));

    private Task TellLater(string service, string endpoint, object message, CallOptions? options, CancellationToken cancellationToken) =>
        Later(options, cancellationToken, async (c, o) => { await c.TellAsync(service, endpoint, message, o, cancellationToken).ConfigureAwait(false); return true; });

    public IAsyncEnumerable<TResponse> StreamAsync<TResponse>(string service, string endpoint, object request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.StreamAsync<TResponse>(service, endpoint, request, options, cancellationToken)
            : LaterStream(options, cancellationToken, (c, o) => c.StreamAsync<TResponse>(service, endpoint, request, o, cancellationToken));

    public IAsyncEnumerable<TResponse> StreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests, CallOptions? options = null,
        CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.StreamAsync<TRequest, TResponse>(service, endpoint, requests, options, cancellationToken)
            : LaterStream(options, cancellationToken, (c, o) => c.StreamAsync<TRequest, TResponse>(service, endpoint, requests, o, cancellationToken));

    public Task<TResponse> ClientStreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests, CallOptions? options = null,
        CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.ClientStreamAsync<TRequest, TResponse>(service, endpoint, requests, options, cancellationToken)
            : Later(options, cancellationToken, (c, o) => c.ClientStreamAsync<TRequest, TResponse>(service, endpoint, requests, o, cancellationToken));

    public Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        node.StartedClient is { } client ? client.PublishAsync(topic, message, options, cancellationToken)
            : node.Broker.PublishAsync(topic, message, options, cancellationToken);

    /// <summary>Waits for the start, then makes the call with what is left of its deadline.</summary>
    private async Task<T> Later<T>(CallOptions? options, CancellationToken cancellationToken, Func<MicroClient, CallOptions, Task<T>> call)
    {
        var (client, rest) = await StartedAsync(options, cancellationToken).ConfigureAwait(false);
        return await call(client, rest).ConfigureAwait(false);
    }

    private async IAsyncEnumerable<T> LaterStream<T>(CallOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken,
        Func<MicroClient, CallOptions, IAsyncEnumerable<T>> open)
    {
        var (client, rest) = await StartedAsync(options, cancellationToken).ConfigureAwait(false);
        await foreach (var item in open(client, rest).WithCancellation(cancellationToken).ConfigureAwait(false)) yield return item;
    }

    private async Task<(MicroClient, CallOptions)> StartedAsync(CallOptions? options, CancellationToken cancellationToken)
    {
        var timeout = options?.Timeout ?? node.Settings.RequestTimeout;
        var waited = Stopwatch.StartNew();
        await node.WhenWiredAsync(timeout, cancellationToken).ConfigureAwait(false);
        var left = timeout - waited.Elapsed;
        return (node.StartedClient!, (options ?? new CallOptions()) with { Timeout = left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1) });
    }
}

/// <summary>The node's <see cref="IRegistry"/>, usable before the node has started (a look-up waits up to the request timeout).</summary>
internal sealed class StartingRegistry(MicroService node) : IRegistry
{
    public async Task<IReadOnlyList<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default) =>
        await (await StartedAsync(cancellationToken).ConfigureAwait(false)).ListServicesAsync(cancellationToken).ConfigureAwait(false);

    public async Task<ServiceInfo?> GetServiceAsync(string name, CancellationToken cancellationToken = default) =>
        await (await StartedAsync(cancellationToken).ConfigureAwait(false)).GetServiceAsync(name, cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<RegistryEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var registry = await StartedAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var e in registry.WatchAsync(cancellationToken).ConfigureAwait(false)) yield return e;
    }

    private async ValueTask<IRegistry> StartedAsync(CancellationToken cancellationToken)
    {
        if (node.StartedRegistry is { } registry) return registry;
        await node.WhenWiredAsync(node.Settings.RequestTimeout, cancellationToken).ConfigureAwait(false);
        return node.StartedRegistry!;
    }
}

/// <summary>The node's <see cref="IBroker"/>, usable before the node has started (each operation waits up to the request timeout).</summary>
internal sealed class StartingBroker(MicroService node) : IBroker
{
    public Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        node.StartedBroker is { } broker ? broker.PublishAsync(topic, message, options, cancellationToken)
            : LaterAsync(cancellationToken, b => b.PublishAsync(topic, message, options, cancellationToken));

    public async Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null, CancellationToken cancellationToken = default)
    {
        ISubscription? subscription = null;
        await LaterAsync(cancellationToken, async b => subscription = await b.SubscribeAsync(topic, handler, queue, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        return subscription!;
    }

    public async Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, SubscribeOptions options, CancellationToken cancellationToken)
    {
        ISubscription? subscription = null;
        await LaterAsync(cancellationToken, async b => subscription = await b.SubscribeAsync(topic, handler, options, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        return subscription!;
    }

    public Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        node.StartedBroker is { } broker ? broker.WaitForSubscribersAsync(topic, timeout, cancellationToken)
            : LaterAsync(cancellationToken, b => b.WaitForSubscribersAsync(topic, timeout, cancellationToken));

    private async Task LaterAsync(CancellationToken cancellationToken, Func<IBroker, Task> run)
    {
        if (node.StartedBroker is not { } broker)
        {
            await node.WhenWiredAsync(node.Settings.RequestTimeout, cancellationToken).ConfigureAwait(false);
            broker = node.StartedBroker!;
        }
        await run(broker).ConfigureAwait(false);
    }
}
