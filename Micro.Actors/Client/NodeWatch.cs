using Micro.Actors.Registry;

namespace Micro.Actors.Client;

/// <summary>
/// What the router makes of the nodes it sends to, kept pure (its clock is a <see cref="TimeProvider"/>):
/// which of them went quiet, and what a new registry view means for a call in flight on one — the
/// failover of a lost node's calls.
/// </summary>
internal sealed class NodeWatch(TimeProvider time)
{
    /// <summary>A node with a call on its way this long, and no answer since, is not where a retry should go.</summary>
    public static readonly TimeSpan SilentAfter = TimeSpan.FromMilliseconds(500);

    /// <summary>When each node last answered.</summary>
    private readonly Dictionary<string, DateTime> _lastHeard = new(StringComparer.Ordinal);

    /// <summary>An answer came from <paramref name="node"/>.</summary>
    public void Heard(string node) => _lastHeard[node] = Now;

    /// <summary>
    /// A call that left for <paramref name="node"/> at <paramref name="sentAt"/> says the node is silent: it has
    /// been on its way for <see cref="SilentAfter"/> and nothing was heard from the node since it left. (When
    /// several nodes are lost at once the failure detector names them one by one; a retry that avoids silent
    /// ones does not fail twice.)
    /// </summary>
    public bool IsSilent(string node, DateTime sentAt) =>
        Now - sentAt > SilentAfter && _lastHeard.GetValueOrDefault(node, DateTime.MinValue) < sentAt;

    /// <summary>Forgets nodes that <paramref name="known"/> no longer lists.</summary>
    public void KeepOnly(Func<string, bool> known)
    {
        foreach (var gone in _lastHeard.Keys.Where(id => !known(id)).ToList()) _lastHeard.Remove(gone);
    }

    /// <summary>
    /// Why a call in flight on <paramref name="node"/> must move to another node now that the registry says
    /// <paramref name="view"/>: it left, or it is unreachable. Null while it may still answer — a leaving node
    /// finishes the calls it has.
    /// </summary>
    public static string? WhyMove(RegistryView view, ServiceNode node) =>
        !view.Nodes.TryGetValue(node.Id, out var now) ? "left the cluster"
        : now.Status == NodeStatus.Unreachable ? "became unreachable"
        : null;

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
