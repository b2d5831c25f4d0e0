using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Micro.Actors.Hosting.Logging;

/// <summary>
/// Which of Akka's log events are routine — what happens every time a client or CLI node joins and leaves,
/// or a peer leaves gracefully — and so are no alarm: they are logged at Information or Debug, without a
/// stack trace. A node that really fails is still a warning: the failure detector's "unreachable".
/// </summary>
public static class RoutineEvents
{
    /// <summary>Cluster messages that land in dead letters once their member has left: gossip and heartbeats.</summary>
    private static readonly string[] ClusterChatter =
        ["[GossipStatus]", "[GossipEnvelope]", "[Heartbeat]", "[HeartbeatRsp]", "[Welcome]", "[ExitingConfirmed]", "[InitJoin"];

    /// <summary>The level to log <paramref name="e"/> at, and whether its cause (a stack trace) is worth showing.</summary>
    public static (LogLevel Level, bool KeepCause) Classify(LogEvent e)
    {
        var level = MicroLogger.Level(e.LogLevel());
        if (level < LogLevel.Information) return (level, true);
        // A peer that closed its connection (it left, or its process ended): Akka.Remote warns, and its
        // supervisor logs the same as an error. The failure detector decides whether the node is lost.
        if (e.Cause?.GetType().Name == "EndpointDisassociatedException")
            return (e.LogClass?.Name == "OneForOneStrategy" ? LogLevel.Debug : Min(level, LogLevel.Information), false);
        // The same, when the peer's process ends before its "I am leaving" reaches us: the supervisor of the
        // association names the disassociation as an argument, not as the cause.
        if (e.Message is LogMessage message && message.Parameters().Any(p => p?.GetType().Name == "EndpointDisassociatedException"))
            return (Min(level, LogLevel.Information), false);
        if (level == LogLevel.Information && e.Message?.ToString() is { } text && text.Contains("was not delivered", StringComparison.Ordinal)
            && ClusterChatter.Any(m => text.Contains(m, StringComparison.Ordinal)))
            return (LogLevel.Debug, false);
        return (level, true);
    }

    private static LogLevel Min(LogLevel a, LogLevel b) => a < b ? a : b;
}
