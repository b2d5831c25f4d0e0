using System.Collections.Immutable;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using Micro.Actors.Server;

namespace Micro.Actors.Registry;

/// <summary>
/// Turns cluster membership into the registry. A member's role is its service name and its
/// app-version the service version; its endpoints and metadata come from its descriptor actor,
/// fetched once when it comes Up. Routers and watchers get a new <see cref="RegistryView"/> on
/// every change.
/// </summary>
internal sealed class RegistryActor : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    public const string Name = "micro-registry";

    public sealed record Subscribe(IActorRef Subscriber);
    public sealed record SubscribeChannel(ChannelWriter<RegistryEvent> Writer);
    public sealed record UnsubscribeChannel(ChannelWriter<RegistryEvent> Writer);
    public sealed record GetView
    {
        public static readonly GetView Instance = new();
    }

    private sealed record DescriptorFetched(UniqueAddress Member, NodeDescriptor Descriptor);
    private sealed record DescriptorFailed(UniqueAddress Member, int Attempt, string Reason);
    private sealed record FetchAgain(UniqueAddress Member, int Attempt);

    private const int MaxDescriptorAttempts = 5;
    /// <summary>Akka gives every member a "dc-…" role of its own; it is not a service.</summary>
    public const string DataCenterRolePrefix = "dc-";

    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeSpan _descriptorTimeout;
    private readonly TaskCompletionSource _ready;
    private readonly Dictionary<UniqueAddress, Member> _members = new();
    private readonly HashSet<UniqueAddress> _unreachable = new();
    private readonly Dictionary<UniqueAddress, Member> _pending = new();
    /// <summary>Service members that joined but are not Up yet.</summary>
    private readonly Dictionary<UniqueAddress, Member> _joining = new();
    /// <summary>Members that have not given their descriptor after many tries: asked again now and then.</summary>
    private readonly Dictionary<UniqueAddress, Member> _slow = new();
    private static readonly TimeSpan SlowRetry = TimeSpan.FromSeconds(5);
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly HashSet<ChannelWriter<RegistryEvent>> _channels = new();
    private RegistryView _view = RegistryView.Empty;

    private readonly IActorRef _mediator;
    private readonly NodeHealth _health;
    private readonly TimeSpan _suspectFor;

    public RegistryActor(TimeSpan descriptorTimeout, TaskCompletionSource ready, IActorRef mediator, NodeHealth health, TimeSpan suspectFor)
    {
        _mediator = mediator;
        _health = health;
        _suspectFor = suspectFor;
        _descriptorTimeout = descriptorTimeout;
        _ready = ready;

        // Membership as the events tell it (Cluster.State is a separate view that can lag behind them).
        Receive<ClusterEvent.IMemberEvent>(e => { Track(e.Member); return false; });
        Receive<ClusterEvent.MemberUp>(e => OnUp(e.Member));
        Receive<ClusterEvent.MemberLeft>(e => SetStatus(e.Member, NodeStatus.Leaving));
        Receive<ClusterEvent.MemberExited>(e => SetStatus(e.Member, NodeStatus.Leaving));
        Receive<ClusterEvent.MemberRemoved>(e => Remove(e.Member.UniqueAddress));
        Receive<ClusterEvent.MemberDowned>(e => Remove(e.Member.UniqueAddress));
        Receive<ClusterEvent.UnreachableMember>(e =>
        {
            _unreachable.Add(e.Member.UniqueAddress);
            _health.Unreachable(e.Member.Address);
            // A node that may be dead must not hold up "ready": keep asking it, in the background.
            if (_pending.Remove(e.Member.UniqueAddress, out var waiting))
            {
                _slow[e.Member.UniqueAddress] = waiting;
                Publish(_view with { PendingServices = RecomputePending() }, []);
            }
            SetStatus(e.Member, NodeStatus.Unreachable);
        });
        Receive<ClusterEvent.ReachableMember>(e =>
        {
            _unreachable.Remove(e.Member.UniqueAddress);
            _health.Reachable(e.Member.Address);
            SetStatus(e.Member, IsLeaving(e.Member) ? NodeStatus.Leaving : NodeStatus.Up);
        });
        // Joined (or weakly up) is enough to know the membership and to call other nodes: a client
        // need not wait for the leader to move it Up (up to a leader-actions interval later).
        Receive<ClusterEvent.MemberJoined>(e => OnJoining(e.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(e => OnJoining(e.Member));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var m in state.Members) Track(m);
            foreach (var m in state.Unreachable) _unreachable.Add(m.UniqueAddress);
            foreach (var m in state.Members.Where(m => m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp)) OnJoining(m);
            foreach (var m in state.Members.Where(m => m.Status == MemberStatus.Up)) OnUp(m);
            if (!_view.MembershipKnown) Publish(_view with { MembershipKnown = true }, []);
        });
        Receive<DisassociatedEvent>(e =>
        {
            _health.Suspect(e.RemoteAddress, _suspectFor);
            Tell(new NodeSuspected(e.RemoteAddress));
        });
        Receive<AssociatedEvent>(e => _health.Connected(e.RemoteAddress));

        Receive<DescriptorChanged>(OnChanged);
        Receive<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(_ => { });
        Receive<DescriptorFetched>(OnDescriptor);
        Receive<DescriptorFailed>(OnDescriptorFailed);
        Receive<FetchAgain>(e =>
        {
            if (_pending.TryGetValue(e.Member, out var m) || _slow.TryGetValue(e.Member, out m)) Fetch(m, e.Attempt);
        });

        Receive<Subscribe>(s =>
        {
            if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            s.Subscriber.Tell(_view with { Changes = [] });
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<SubscribeChannel>(s =>
        {
            _channels.Add(s.Writer);
            foreach (var node in _view.Nodes.Values.OrderBy(n => n.Id, StringComparer.Ordinal))
                s.Writer.TryWrite(new RegistryEvent(RegistryEventKind.Added, node));
        });
        Receive<UnsubscribeChannel>(s => { _channels.Remove(s.Writer); s.Writer.TryComplete(); });
        Receive<GetView>(_ => Sender.Tell(_view with { Changes = [] }));
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
        _mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(DescriptorChanged.Topic, Self));
    }

    /// <summary>A known node changed its descriptor (its subscriptions): fetch it again.</summary>
    private void OnChanged(DescriptorChanged changed)
    {
        var known = _view.Nodes.Values.FirstOrDefault(n => n.Address.Equals(changed.Node));
        var member = _members.Values.FirstOrDefault(m => m.Address.Equals(changed.Node));
        if (known is null || member is null || _pending.ContainsKey(member.UniqueAddress)) return;
        _pending[member.UniqueAddress] = member;
        Fetch(member, 1);
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
        foreach (var channel in _channels) channel.TryComplete();
    }

    private void Track(Member member)
    {
        if (member.Status is MemberStatus.Removed or MemberStatus.Down)
        {
            if (member.Status == MemberStatus.Removed) _health.Gone(member.Address);
            _members.Remove(member.UniqueAddress);
            _unreachable.Remove(member.UniqueAddress);
        }
        else _members[member.UniqueAddress] = member;
    }

    /// <summary>
    /// The member's service: its marked role (a node may carry roles of its own beside it); none for a marked
    /// client. A node of an earlier version, marked neither way, has its service as its only role.
    /// </summary>
    private static string? ServiceOf(Member member)
    {
        if (member.Roles.FirstOrDefault(r => r.StartsWith(Config.MicroConfig.ServiceRolePrefix, StringComparison.Ordinal)) is { } marked)
            return marked[Config.MicroConfig.ServiceRolePrefix.Length..];
        return member.Roles.Contains(Config.MicroConfig.ClientRole) ? null
            : member.Roles.FirstOrDefault(r => !r.StartsWith(DataCenterRolePrefix, StringComparison.Ordinal));
    }

    private static string NodeId(UniqueAddress a) => $"{a.Address.Host}:{a.Address.Port}#{a.Uid}";

    private static bool IsLeaving(Member m) => m.Status is MemberStatus.Leaving or MemberStatus.Exiting;

    /// <summary>
    /// This node has the membership once it is in it. Other members may arrive in the same gossip:
    /// ask for the whole state before saying "ready", so that a service among them is never reported missing.
    /// </summary>
    private void OnSelfKnown(Member member)
    {
        if (member.UniqueAddress.Equals(_cluster.SelfUniqueAddress) && !_view.MembershipKnown)
            _cluster.SendCurrentClusterState(Self);
    }

    /// <summary>A node on its way in: its service counts as "coming", so callers wait for it rather than hear 404.</summary>
    private void OnJoining(Member member)
    {
        OnSelfKnown(member);
        if (ServiceOf(member) is null || !_joining.TryAdd(member.UniqueAddress, member)) return;
        Publish(_view with { PendingServices = RecomputePending() }, []);
    }

    private void OnUp(Member member)
    {
        OnSelfKnown(member);
        _joining.Remove(member.UniqueAddress);
        if (ServiceOf(member) is not { } service) return;
        if (_pending.ContainsKey(member.UniqueAddress) || _slow.ContainsKey(member.UniqueAddress)
            || _view.Nodes.ContainsKey(NodeId(member.UniqueAddress))) return;
        if (_unreachable.Contains(member.UniqueAddress))
        {
            _slow[member.UniqueAddress] = member; // fetched when it answers; meanwhile it holds nobody up
            Fetch(member, MaxDescriptorAttempts);
            return;
        }
        _pending[member.UniqueAddress] = member;
        Publish(_view with { PendingServices = _view.PendingServices.Add(service) }, []);
        Fetch(member, 1);
    }

    private void Fetch(Member member, int attempt)
    {
        var self = Self;
        var ua = member.UniqueAddress;
        Context.ActorSelection(Service.MicroExtension.On(member.Address, DescriptorActor.Name))
            .Ask<NodeDescriptor>(GetDescriptor.Instance, _descriptorTimeout)
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? (object)new DescriptorFetched(ua, t.Result)
                : new DescriptorFailed(ua, attempt, t.Exception?.GetBaseException().Message ?? "timed out"),
                TaskContinuationOptions.ExecuteSynchronously)
            .PipeTo(self);
    }

    private void OnDescriptor(DescriptorFetched e)
    {
        if (!_pending.Remove(e.Member, out var member) && !_slow.Remove(e.Member, out member)) return;
        var d = e.Descriptor;
        // Membership may have moved on while the descriptor was on its way.
        if (!_members.TryGetValue(e.Member, out var current))
        {
            Publish(_view with { PendingServices = RecomputePending() }, []);
            return;
        }
        var status = _unreachable.Contains(e.Member) ? NodeStatus.Unreachable
            : current.Status is MemberStatus.Leaving or MemberStatus.Exiting ? NodeStatus.Leaving
            : NodeStatus.Up;
        var known = _view.Nodes.GetValueOrDefault(NodeId(e.Member));
        var node = new ServiceNode(NodeId(e.Member), e.Member.Address, d.Service,
            member.AppVersion.ToString() is { Length: > 0 } v && v != "0.0.0" ? v : d.Version,
            d.Metadata, d.Endpoints, known?.Status ?? status) { Server = d.Server, Subscriptions = d.Subscriptions };
        if (known is null) _log.Info("Registry: {Service} {Version} at {Node} is {Status}", node.Service, node.Version, node.HostPort, status);
        var pending = RecomputePending();
        Publish(_view with { Nodes = _view.Nodes.SetItem(node.Id, node), PendingServices = pending },
            [new RegistryEvent(known is null ? RegistryEventKind.Added : RegistryEventKind.Updated, node)]);
    }

    private void OnDescriptorFailed(DescriptorFailed e)
    {
        if (!_pending.TryGetValue(e.Member, out var member) && !_slow.TryGetValue(e.Member, out member)) return;
        if (e.Attempt < MaxDescriptorAttempts)
        {
            Timers.StartSingleTimer(e.Member, new FetchAgain(e.Member, e.Attempt + 1), TimeSpan.FromMilliseconds(200 * e.Attempt));
            return;
        }
        if (e.Attempt == MaxDescriptorAttempts && _pending.ContainsKey(e.Member))
        {
            _log.Warning("Registry: {Node} has role {Service} but did not give its descriptor after {Attempts} attempts ({Reason}); " +
                "it is not selectable until it does (still asking every {Every} s)", member.Address, ServiceOf(member), e.Attempt, e.Reason, SlowRetry.TotalSeconds);
            // Stop holding up "ready" for it, but keep asking while it is a member.
            _pending.Remove(e.Member);
            _slow[e.Member] = member;
            Publish(_view with { PendingServices = RecomputePending() }, []);
        }
        Timers.StartSingleTimer(e.Member, new FetchAgain(e.Member, e.Attempt + 1), SlowRetry);
    }

    private ImmutableHashSet<string> RecomputePending() =>
        _pending.Values.Concat(_joining.Values)
            .Select(ServiceOf).OfType<string>().ToImmutableHashSet();

    private void SetStatus(Member member, NodeStatus status)
    {
        var id = NodeId(member.UniqueAddress);
        if (!_view.Nodes.TryGetValue(id, out var node) || node.Status == status) return;
        // A node that is leaving stays "leaving" even if it becomes unreachable on the way out.
        if (node.Status == NodeStatus.Leaving && status == NodeStatus.Up) return;
        var updated = node with { Status = status };
        _log.Info("Registry: {Service} at {Node} is {Status}", node.Service, node.HostPort, status);
        Publish(_view with { Nodes = _view.Nodes.SetItem(id, updated) },
            [new RegistryEvent(RegistryEventKind.Updated, updated)]);
    }

    private void Remove(UniqueAddress member)
    {
        _slow.Remove(member);
        if (_joining.Remove(member)) Publish(_view with { PendingServices = RecomputePending() }, []);
        if (_pending.Remove(member))
            Publish(_view with { PendingServices = RecomputePending() }, []);
        if (!_view.Nodes.TryGetValue(NodeId(member), out var node)) return;
        _log.Info("Registry: {Service} at {Node} is gone", node.Service, node.HostPort);
        Publish(_view with { Nodes = _view.Nodes.Remove(node.Id) },
            [new RegistryEvent(RegistryEventKind.Removed, node)]);
    }

    private void Publish(RegistryView view, IReadOnlyList<RegistryEvent> changes)
    {
        _view = view with { Changes = [] };
        var message = view with { Changes = changes };
        foreach (var s in _subscribers) s.Tell(message);
        foreach (var change in changes)
        foreach (var channel in _channels)
            channel.TryWrite(change);
        if (_view.IsReady) _ready.TrySetResult();
    }

    private void Tell(object message)
    {
        foreach (var s in _subscribers) s.Tell(message);
    }
}
