using System.Collections.Concurrent;
using Akka.Actor;

namespace Micro.Actors.Registry;

/// <summary>
/// Nodes to route around right now: unreachable ones (until reachable or gone) and ones whose
/// connection just dropped (for a short while, unless they connect again). Kept by the registry
/// actor, read by pub/sub routing on any thread.
/// </summary>
internal sealed class NodeHealth
{
    private readonly ConcurrentDictionary<Address, DateTime> _avoidUntil = new();

    public bool IsEmpty => _avoidUntil.IsEmpty;

    public bool ShouldAvoid(Address node)
    {
        if (!_avoidUntil.TryGetValue(node, out var until)) return false;
        if (until > DateTime.UtcNow) return true;
        _avoidUntil.TryRemove(KeyValuePair.Create(node, until)); // an expired suspicion: gone, so routing is cheap again
        return false;
    }

    internal void Unreachable(Address node) => _avoidUntil[node] = DateTime.MaxValue;

    internal void Reachable(Address node) => _avoidUntil.TryRemove(node, out _);

    internal void Gone(Address node) => _avoidUntil.TryRemove(node, out _);

    internal void Suspect(Address node, TimeSpan howLong)
    {
        var now = DateTime.UtcNow;
        // Suspicions of nodes that have since left would otherwise stay forever.
        foreach (var (address, expires) in _avoidUntil)
            if (expires <= now) _avoidUntil.TryRemove(KeyValuePair.Create(address, expires));
        var until = now + howLong;
        _avoidUntil.AddOrUpdate(node, until, (_, current) => current == DateTime.MaxValue ? current : until);
    }

    /// <summary>Connected again: a suspicion ends (unreachability is for the failure detector to lift).</summary>
    internal void Connected(Address node)
    {
        if (_avoidUntil.TryGetValue(node, out var until) && until != DateTime.MaxValue) _avoidUntil.TryRemove(node, out _);
    }
}
