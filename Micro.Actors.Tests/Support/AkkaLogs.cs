using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace Micro.Actors.Tests.Support;

/// <summary>The warnings and errors an actor system logs, from its event stream (for nodes that run without a host).</summary>
public sealed class AkkaLogs
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public IReadOnlyList<LogEvent> Entries => [.. _events];

    public static AkkaLogs Capture(ActorSystem system)
    {
        var logs = new AkkaLogs();
        var listener = system.ActorOf(Props.Create(() => new Listener(logs._events)));
        system.EventStream.Subscribe(listener, typeof(Warning));
        system.EventStream.Subscribe(listener, typeof(Error));
        return logs;
    }

    /// <summary>The messages of the entries whose text contains <paramref name="text"/>.</summary>
    public IReadOnlyList<string> Containing(string text) =>
        [.. _events.Select(e => e.ToString()).Where(m => m.Contains(text, StringComparison.Ordinal))];

    private sealed class Listener : ReceiveActor
    {
        public Listener(ConcurrentQueue<LogEvent> into) => Receive<LogEvent>(into.Enqueue);
    }
}
