using Akka.Actor;

namespace Micro.Actors.Transport;

/// <summary>
/// The nodes this node's connections hold more than their send budget for (micro.socket.send-budget):
/// a node that stops reading (frozen, or its receive window full). The router sends no new call there
/// while it is listed; one per actor system, shared by the transport and the routers.
/// </summary>
internal sealed class Backlog : IExtension
{
    private readonly Dictionary<string, int> _over = new(StringComparer.Ordinal);
    private volatile int _count;

    public static Backlog For(ActorSystem system) => system.WithExtension<Backlog, BacklogId>();

    /// <summary>Whether a connection to the node at <paramref name="hostPort"/> is over its budget now.</summary>
    public bool IsOver(string hostPort)
    {
        if (_count == 0) return false; // the usual case: no lock
        lock (_over) return _over.ContainsKey(hostPort);
    }

    /// <summary>A connection to <paramref name="hostPort"/> went over its budget (true) or back under it (false).</summary>
    public void Change(string hostPort, bool over)
    {
        lock (_over)
        {
            var n = _over.GetValueOrDefault(hostPort) + (over ? 1 : -1);
            if (n > 0) _over[hostPort] = n;
            else _over.Remove(hostPort);
            _count = _over.Count;
        }
    }

    private sealed class BacklogId : ExtensionIdProvider<Backlog>
    {
        public override Backlog CreateExtension(ExtendedActorSystem system) => new();
    }
}
