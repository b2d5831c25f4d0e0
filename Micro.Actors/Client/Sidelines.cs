namespace Micro.Actors.Client;

/// <summary>
/// Nodes that failed a moment ago (502/503/504, a dropped connection) and until when calls pass them
/// over — unless nothing else is left. On a <see cref="TimeProvider"/>, so it is tested on a fake clock.
/// </summary>
internal sealed class Sidelines(TimeSpan period, TimeProvider time)
{
    private readonly Dictionary<string, DateTimeOffset> _until = new(StringComparer.Ordinal);

    public void Add(string node) => _until[node] = time.GetUtcNow() + period;

    /// <summary>Whether <paramref name="node"/> is sidelined now (one whose time is up is forgotten).</summary>
    public bool Contains(string node)
    {
        if (!_until.TryGetValue(node, out var until)) return false;
        if (until > time.GetUtcNow()) return true;
        _until.Remove(node);
        return false;
    }

    /// <summary>Forgets nodes that <paramref name="known"/> no longer lists.</summary>
    public void KeepOnly(Func<string, bool> known)
    {
        foreach (var gone in _until.Keys.Where(id => !known(id)).ToList()) _until.Remove(gone);
    }
}
