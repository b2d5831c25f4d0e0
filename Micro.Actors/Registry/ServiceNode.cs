using Akka.Actor;
using Micro.Actors.Broker;

namespace Micro.Actors.Registry;

/// <summary>
/// An endpoint a node serves: "Greeter.Hello", its message type names, and the JSON shape of each
/// (<c>{"name":"string"}</c>) so that tools can show and build requests.
/// </summary>
public sealed record EndpointInfo(string Name, string RequestType, string? ResponseType,
    string? RequestShape = null, string? ResponseShape = null, Streaming.StreamKind? Stream = null);

/// <summary>What a node says about itself; served by its descriptor actor at <c>/system/micro-descriptor</c>.</summary>
internal sealed record NodeDescriptor(
    string Service,
    string Version,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<EndpointInfo> Endpoints,
    IActorRef Server)
{
    /// <summary>The topics the node consumes.</summary>
    public IReadOnlyList<SubscriptionInfo> Subscriptions { get; init; } = [];
}

/// <summary>Published on <see cref="Topic"/> when a node's descriptor changes, so registries fetch it again.</summary>
internal sealed record DescriptorChanged(Address Node)
{
    public const string Topic = "micro.registry";
}

/// <summary>Where a node stands, as seen from this node.</summary>
public enum NodeStatus
{
    /// <summary>A member in good standing: selectable.</summary>
    Up,
    /// <summary>The failure detector lost it: not selected; calls in flight to it are retried elsewhere.</summary>
    Unreachable,
    /// <summary>Leaving gracefully: not selected for new calls; calls in flight to it still finish.</summary>
    Leaving,
}

/// <summary>One node of a service, as the registry knows it.</summary>
public sealed record ServiceNode(
    string Id,
    Address Address,
    string Service,
    string Version,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<EndpointInfo> Endpoints,
    NodeStatus Status)
{
    /// <summary>The topics the node consumes (with their queue groups).</summary>
    public IReadOnlyList<SubscriptionInfo> Subscriptions { get; init; } = [];

    /// <summary>The node's server actor: where requests go. Not part of the public shape.</summary>
    internal IActorRef Server { get; init; } = ActorRefs.Nobody;

    /// <summary>"host:port", the form used on command lines.</summary>
    public string HostPort => $"{Address.Host}:{Address.Port}";

    /// <summary>The endpoint of that name; null if this node has none (or it is a built-in one).</summary>
    internal EndpointInfo? Endpoint(string name)
    {
        foreach (var e in Endpoints)
            if (string.Equals(e.Name, name, StringComparison.Ordinal)) return e;
        return null;
    }

    public bool HasEndpoint(string endpoint) => Endpoint(endpoint) is not null;
}

/// <summary>A service and its nodes.</summary>
public sealed record ServiceInfo(string Name, IReadOnlyList<ServiceNode> Nodes)
{
    public IReadOnlyList<string> Versions => Nodes.Select(n => n.Version).Distinct().Order(StringComparer.Ordinal).ToList();
}

/// <summary>One line of <c>ListServices</c>.</summary>
public sealed record ServiceSummary(string Name, IReadOnlyList<string> Versions, int Nodes);

public enum RegistryEventKind { Added, Updated, Removed }

/// <summary>A change of the registry, as go-micro's watcher reports it.</summary>
public sealed record RegistryEvent(RegistryEventKind Kind, ServiceNode Node);
