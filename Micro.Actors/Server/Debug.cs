namespace Micro.Actors.Server;

/// <summary>Every node's built-in endpoints, as in go-micro; not listed among a service's endpoints.</summary>
public static class BuiltIn
{
    public const string Health = "Debug.Health";
    public const string Stats = "Debug.Stats";

    public static bool IsBuiltIn(string endpoint) => endpoint is Health or Stats;
}

/// <summary>The answer of Debug.Health.</summary>
public sealed record HealthReply(string Status, string Service, string Version, string Node);

/// <summary>Calls served and failed by one endpoint since the node started.</summary>
public sealed record EndpointStats(string Endpoint, long Served, long Failed);

/// <summary>The answer of Debug.Stats.</summary>
public sealed record StatsReply(
    string Service,
    string Node,
    DateTime StartedUtc,
    TimeSpan Uptime,
    long MemoryBytes,
    int Threads,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    IReadOnlyList<EndpointStats> Endpoints);

/// <summary>Counts of one endpoint, bumped as its requests end (and, for a stream, as its items leave).</summary>
internal sealed class EndpointCounters
{
    public long Served;
    public long Failed;
    public long Items;
}
