using Micro.Actors.Registry;

namespace Micro.Actors.Selector;

/// <summary>
/// go-micro's selection strategy: picks one node out of the candidates (never empty). The router
/// has already dropped nodes that are down, filtered out, already tried by this call or sidelined.
/// </summary>
public interface ISelector
{
    ServiceNode Select(IReadOnlyList<ServiceNode> candidates);

    /// <summary>
    /// go-micro's Mark: how a try on <paramref name="node"/> went — <paramref name="error"/> null for a reply — and how
    /// long it took. The router tells it after every try, on its own thread; a selector that learns (least latency,
    /// circuit breaking) keeps what it needs.
    /// </summary>
    void Mark(ServiceNode node, Errors.MicroError? error, TimeSpan latency) { }
}

/// <summary>The default: any candidate, uniformly at random.</summary>
public sealed class RandomSelector : ISelector
{
    public static readonly RandomSelector Instance = new();
    public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) => candidates[Random.Shared.Next(candidates.Count)];
}

/// <summary>Each candidate in turn.</summary>
public sealed class RoundRobinSelector : ISelector
{
    private int _next = -1;
    public ServiceNode Select(IReadOnlyList<ServiceNode> candidates) =>
        candidates[(int)((uint)Interlocked.Increment(ref _next) % (uint)candidates.Count)];
}

/// <summary>go-micro's selector filters: keep only nodes that match.</summary>
public static class Filters
{
    public static Func<ServiceNode, bool> Version(string version) => n => n.Version == version;

    public static Func<ServiceNode, bool> Label(string key, string value) =>
        n => n.Metadata.TryGetValue(key, out var v) && v == value;

    public static Func<ServiceNode, bool> Endpoint(string endpoint) => n => n.HasEndpoint(endpoint);
}
