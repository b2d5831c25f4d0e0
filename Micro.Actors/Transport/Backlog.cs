using Akka.Actor;
using Akka.Event;

namespace Micro.Actors.Transport;

/// <summary>
/// The nodes this node cannot send to now: a connection to each holds more than its send budget
/// (micro.socket.send-budget) and has written nothing for <see cref="StalledAfter"/> — the node is not
/// reading (frozen, or its receive window full). A connection that is over its budget but still draining
/// (a busy node) does not count. The routers send no new call to a listed node; one per actor system.
/// </summary>
internal sealed class Backlog(ILoggingAdapter? log = null) : IExtension
{
    /// <summary>How long a connection over its budget may go without a finished write before its node counts as not reading.</summary>
    public static readonly TimeSpan StalledAfter = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<string, List<SocketAssociation>> _over = new(StringComparer.Ordinal);
    private readonly HashSet<string> _said = new(StringComparer.Ordinal);
    private volatile int _count;

    public static Backlog For(ActorSystem system) => system.WithExtension<Backlog, BacklogId>();

    /// <summary>Whether any node is listed (the usual answer, no: then no call needs to ask about its node).</summary>
    public bool Any => _count > 0;

    /// <summary>Whether the node at <paramref name="hostPort"/> is not reading what this node sends it.</summary>
    public bool IsOver(string hostPort)
    {
        if (_count == 0) return false; // the usual case: no lock
        lock (_over)
        {
            if (!_over.TryGetValue(hostPort, out var connections)) return false;
            var now = Environment.TickCount64;
            var stalled = connections.FirstOrDefault(c => c.StalledFor(now) >= StalledAfter);
            if (stalled is null) return false;
            if (_said.Add(hostPort))
                log?.Info("The connection to {0} holds {1} bytes it could not send for {2} ms (micro.socket.send-budget): the node is not reading; no new calls go to it until it does",
                    hostPort, stalled.QueuedBytes, (long)stalled.StalledFor(now).TotalMilliseconds);
            return true;
        }
    }

    /// <summary>A connection to <paramref name="hostPort"/> went over its budget (true) or back under it (false).</summary>
    public void Change(string hostPort, SocketAssociation connection, bool over)
    {
        lock (_over)
        {
            if (!_over.TryGetValue(hostPort, out var connections)) _over[hostPort] = connections = [];
            if (over) connections.Add(connection);
            else connections.Remove(connection);
            if (connections.Count == 0)
            {
                _over.Remove(hostPort);
                _said.Remove(hostPort);
            }
            _count = _over.Count;
        }
    }

    private sealed class BacklogId : ExtensionIdProvider<Backlog>
    {
        public override Backlog CreateExtension(ExtendedActorSystem system) => new(Logging.GetLogger(system, typeof(SocketTransport)));
    }
}
