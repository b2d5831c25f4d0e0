using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Micro.Actors.Server;

namespace Micro.Actors.Registry;

/// <summary>
/// Puts a registry of the user's own (<see cref="Service.MicroServiceOptions.Registry"/>) in the registry
/// actor's place for this node's routers and streams: the same views, made from what the plugged registry
/// lists and reports, plus the cluster's own hint that a node's connection dropped. Nodes it names get
/// their server's address resolved here (no round trip), so a static list of "host:port"s is enough.
/// </summary>
internal sealed class RegistryFeedActor : ReceiveActor
{
    public const string Name = "micro-registry-feed";

    private sealed record Picture(ImmutableDictionary<string, ServiceNode> Nodes);

    private sealed record Lost(Exception Error);

    private readonly IRegistry _registry;
    private readonly IActorRef _cluster;
    private readonly HashSet<IActorRef> _subscribers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private RegistryView _view = RegistryView.Empty;

    public RegistryFeedActor(IRegistry registry, IActorRef cluster)
    {
        _registry = registry;
        _cluster = cluster;
        Receive<Picture>(p =>
        {
            _view = new RegistryView(p.Nodes.ToImmutableDictionary(n => n.Key, n => Resolved(n.Value), StringComparer.Ordinal),
                ImmutableHashSet<string>.Empty, MembershipKnown: true, []);
            foreach (var s in _subscribers) s.Tell(_view);
        });
        Receive<Lost>(l =>
        {
            _log.Error(l.Error, "The registry {Registry} stopped reporting changes: {Error}; calls use what it last listed",
                _registry.GetType().Name, l.Error.Message);
            // One that failed before it listed anything lists nothing: calls end with 404 at once, not at their deadline.
            if (!_view.MembershipKnown) Self.Tell(new Picture(ImmutableDictionary<string, ServiceNode>.Empty));
        });
        Receive<NodeSuspected>(s => { foreach (var subscriber in _subscribers) subscriber.Tell(s); });
        Receive<RegistryView>(_ => { }); // the cluster's own picture: this node routes by the plugged one
        Receive<RegistryActor.Subscribe>(s =>
        {
            _subscribers.Add(s.Subscriber);
            Context.Watch(s.Subscriber);
            s.Subscriber.Tell(_view);
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<RegistryActor.GetView>(_ => Sender.Tell(_view));
    }

    protected override void PreStart()
    {
        _cluster.Tell(new RegistryActor.Subscribe(Self));
        var (self, registry, token) = (Self, _registry, _stop.Token);
        _ = Task.Run(() => FeedAsync(registry, self, token));
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    /// <summary>What the registry lists now, then every change it reports, each as a whole picture.</summary>
    private static async Task FeedAsync(IRegistry registry, IActorRef self, CancellationToken token)
    {
        try
        {
            var nodes = ImmutableDictionary.Create<string, ServiceNode>(StringComparer.Ordinal);
            foreach (var service in await registry.ListServicesAsync(token).ConfigureAwait(false))
                if (await registry.GetServiceAsync(service.Name, token).ConfigureAwait(false) is { } info)
                    foreach (var node in info.Nodes) nodes = nodes.SetItem(node.Id, node);
            self.Tell(new Picture(nodes));
            await foreach (var change in registry.WatchAsync(token).ConfigureAwait(false))
            {
                nodes = change.Kind == RegistryEventKind.Removed ? nodes.Remove(change.Node.Id) : nodes.SetItem(change.Node.Id, change.Node);
                self.Tell(new Picture(nodes));
            }
            // A watch that ends by itself reports no more changes: say so, rather than route on a stale picture in silence.
            if (!token.IsCancellationRequested) self.Tell(new Lost(new InvalidOperationException("its WatchAsync ended")));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested) { }
        catch (Exception e) { self.Tell(new Lost(e)); }
    }

    /// <summary>A node named by address only gets the ref of its server actor (a remote ref: resolving it sends nothing).</summary>
    private ServiceNode Resolved(ServiceNode node) =>
        !node.Server.IsNobody() ? node
            : node with { Server = ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(Service.MicroExtension.On(node.Address, ServerActor.Name)) };
}
