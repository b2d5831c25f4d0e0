using System.Collections.Immutable;
using Akka.Actor;

namespace Micro.Actors.Registry;

/// <summary>
/// An immutable picture of the registry, sent to every subscriber (routers, watchers) on each change.
/// Changes are membership events, so they are rare next to calls; a whole picture is cheap and simple.
/// A picture that reaches a subscriber already stopped (a router, at shutdown) is no news: not logged as a dead letter.
/// </summary>
internal sealed record RegistryView(
    ImmutableDictionary<string, ServiceNode> Nodes,
    ImmutableHashSet<string> PendingServices,
    bool MembershipKnown,
    IReadOnlyList<RegistryEvent> Changes) : Akka.Event.IDeadLetterSuppression
{
    public static readonly RegistryView Empty = new(
        ImmutableDictionary<string, ServiceNode>.Empty, ImmutableHashSet<string>.Empty, false, []);

    /// <summary>This node is Up and holds every descriptor it has heard of: "not found" can be trusted.</summary>
    public bool IsReady => MembershipKnown && PendingServices.IsEmpty;

    /// <summary>Whether "no node of <paramref name="service"/>" can be trusted yet.</summary>
    public bool IsSettled(string service) => MembershipKnown && !PendingServices.Contains(service);

    public IReadOnlyList<ServiceNode> NodesOf(string service) =>
        Nodes.Values.Where(n => n.Service == service).OrderBy(n => n.Id, StringComparer.Ordinal).ToList();

    public IReadOnlyList<string> ServiceNames =>
        Nodes.Values.Select(n => n.Service).Distinct().Order(StringComparer.Ordinal).ToList();
}

/// <summary>A node's connection dropped: it may have died. A hint to stop choosing it, not proof (and no dead letter for a subscriber that ignores it).</summary>
internal sealed record NodeSuspected(Address Address) : Akka.Event.IDeadLetterSuppression;
