using Micro.Actors.Errors;
using Micro.Actors.Registry;

namespace Micro.Actors.Selector;

/// <summary>The outcome of narrowing a service's nodes down to the ones a call may use.</summary>
internal readonly record struct Candidates(IReadOnlyList<ServiceNode> Nodes, MicroError? Error);

/// <summary>
/// Which nodes a call may go to, kept pure (no actor, no clock) so it is tested on its own.
/// Order of the checks gives the most useful error: no such service, no such endpoint,
/// nothing matches the filters, nothing reachable.
/// </summary>
internal static class Selection
{
    public static Candidates Narrow(
        IReadOnlyList<ServiceNode> nodes,
        IReadOnlyCollection<string> knownServices,
        string service,
        string endpoint,
        IReadOnlyList<Func<ServiceNode, bool>> filters,
        string? address,
        IReadOnlySet<string> tried,
        Func<ServiceNode, bool> isSidelined,
        bool streaming = false)
    {
        if (nodes.Count == 0)
            return new([], MicroError.NotFound("micro.client",
                $"service '{service}' is not in the registry; known services: {List(knownServices)}. Is it running and joined to this cluster?"));

        // The usual call (no filters, no address, a first try, every node up, fresh and serving the endpoint) may use
        // every node: that list itself, found without making a list per call.
        if (filters.Count == 0 && address is null && tried.Count == 0 && AllUsable(nodes, endpoint, streaming, isSidelined)) return new(nodes, null);

        var withEndpoint = Server.BuiltIn.IsBuiltIn(endpoint) ? nodes.ToList() : nodes.Where(n => n.HasEndpoint(endpoint)).ToList();
        if (withEndpoint.Count == 0)
            return new([], MicroError.NotFound("micro.client",
                $"{service} has no endpoint {endpoint}; its endpoints are: {List(nodes.SelectMany(n => n.Endpoints).Select(e => e.Name))}"));

        if (!streaming && !Server.BuiltIn.IsBuiltIn(endpoint) && withEndpoint[0].Endpoints.First(e => e.Name == endpoint).Stream is not null)
            return new([], MicroError.BadRequest("micro.client",
                $"{service} {endpoint} is a streaming endpoint: open it with StreamAsync (or ClientStreamAsync), not CallAsync"));

        var matching = withEndpoint;
        if (address is not null)
        {
            matching = matching.Where(n => n.HostPort == address).ToList();
            if (matching.Count == 0)
                return new([], MicroError.NotFound("micro.client",
                    $"no node of {service} at {address}; its nodes are: {List(withEndpoint.Select(n => n.HostPort))}"));
        }
        foreach (var filter in filters) matching = matching.Where(filter).ToList();
        if (matching.Count == 0)
            return new([], MicroError.NotFound("micro.client",
                $"no node of {service} with {endpoint} matches the call's filters (versions: {List(withEndpoint.Select(n => n.Version))})"));

        var up = matching.Where(n => n.Status == NodeStatus.Up && !tried.Contains(n.Id)).ToList();
        if (up.Count == 0)
        {
            var unreachable = matching.Count(n => n.Status == NodeStatus.Unreachable);
            var leaving = matching.Count(n => n.Status == NodeStatus.Leaving);
            var triedUp = matching.Count(n => n.Status == NodeStatus.Up && tried.Contains(n.Id));
            return new([], MicroError.ServiceUnavailable("micro.client",
                $"no node of {service} left to try for {endpoint} ({triedUp} already tried, {unreachable} unreachable, {leaving} leaving); try again shortly"));
        }
        // Sidelined nodes failed a moment ago: use them only when nothing else is left.
        var fresh = up.Where(n => !isSidelined(n)).ToList();
        return new(fresh.Count > 0 ? fresh : up, null);
    }

    private static bool AllUsable(IReadOnlyList<ServiceNode> nodes, string endpoint, bool streaming, Func<ServiceNode, bool> isSidelined)
    {
        var builtIn = Server.BuiltIn.IsBuiltIn(endpoint);
        for (var i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            if (n.Status != NodeStatus.Up || isSidelined(n)) return false;
            if (builtIn) continue;
            // A streaming endpoint called as a unary one takes the long way, to its error.
            if (n.Endpoint(endpoint) is not { } e || (!streaming && e.Stream is not null)) return false;
        }
        return true;
    }

    /// <summary>
    /// Nodes this node cannot send to now (a connection to each holds more than its send budget: it is not
    /// reading) take no new call: the others do, and when none is left the call fails at once with a 503
    /// rather than queue behind them.
    /// </summary>
    public static Candidates Sendable(Candidates candidates, Func<ServiceNode, bool> isBacklogged, string service, string endpoint)
    {
        if (candidates.Error is not null) return candidates;
        var sendable = candidates.Nodes.Where(n => !isBacklogged(n)).ToList();
        if (sendable.Count == candidates.Nodes.Count) return candidates;
        return sendable.Count > 0 ? new(sendable, null) : new([], MicroError.ServiceUnavailable("micro.client",
            $"every node of {service} that could take {endpoint} is not reading what this node sends it ({List(candidates.Nodes.Select(n => n.HostPort))}: " +
            "more than micro.socket.send-budget waits for each); try again shortly"));
    }

    private static string List(IEnumerable<string> items)
    {
        var list = items.Distinct().Order(StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list);
    }
}
