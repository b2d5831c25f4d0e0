using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;

namespace Micro.Actors.Registry;

/// <summary>The default <see cref="IRegistry"/>: cluster membership, read through the registry actor.</summary>
public sealed class ClusterRegistry : IRegistry
{
    private readonly IActorRef _registry;
    private readonly Task _ready;
    private readonly TimeSpan _readyTimeout;
    private readonly Func<string> _notReadyReason;

    internal ClusterRegistry(IActorRef registry, Task ready, TimeSpan readyTimeout, Func<string> notReadyReason)
    {
        _registry = registry;
        _ready = ready;
        _readyTimeout = readyTimeout;
        _notReadyReason = notReadyReason;
    }

    public async Task<IReadOnlyList<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default)
    {
        var view = await ViewAsync(cancellationToken).ConfigureAwait(false);
        return view.Nodes.Values
            .GroupBy(n => n.Service)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ServiceSummary(g.Key, g.Select(n => n.Version).Distinct().Order(StringComparer.Ordinal).ToList(), g.Count()))
            .ToList();
    }

    public async Task<ServiceInfo?> GetServiceAsync(string name, CancellationToken cancellationToken = default)
    {
        var view = await ViewAsync(cancellationToken).ConfigureAwait(false);
        var nodes = view.NodesOf(name);
        return nodes.Count == 0 ? null : new ServiceInfo(name, nodes);
    }

    public async IAsyncEnumerable<RegistryEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<RegistryEvent>(new UnboundedChannelOptions { SingleReader = true });
        _registry.Tell(new RegistryActor.SubscribeChannel(channel.Writer));
        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return e;
        }
        finally
        {
            _registry.Tell(new RegistryActor.UnsubscribeChannel(channel.Writer));
        }
    }

    /// <summary>The current view, once this node knows the membership (or when cancelled, what it has).</summary>
    /// A node that cannot join fails after the request timeout with an error that says why.
    internal async Task<RegistryView> ViewAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _readyTimeout;
        try
        {
            await _ready.WaitAsync(_readyTimeout, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                // A node that just came Up may still be handing over its descriptor: wait for it, briefly.
                var view = await _registry.Ask<RegistryView>(RegistryActor.GetView.Instance, _readyTimeout, cancellationToken).ConfigureAwait(false);
                if (view.IsReady || DateTime.UtcNow > deadline) return view;
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
            throw Errors.MicroError.Timeout("micro.registry", _notReadyReason()).ToException();
        }
        catch (Akka.Actor.AskTimeoutException)
        {
            throw Errors.MicroError.ServiceUnavailable("micro.registry", "the registry did not answer: has this node stopped?").ToException();
        }
    }
}
