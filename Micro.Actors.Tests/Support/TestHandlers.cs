using Akka.Actor;
using Akka.Cluster;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Tests.Support;

public sealed record Ping(string Text);
public sealed record Pong(string Text, string Node, string RequestId, IReadOnlyDictionary<string, string> Headers, TimeSpan Remaining);
public sealed record Boom(string Why);
public sealed record Slow(int Milliseconds);
public sealed record Note(string Text);

/// <summary>A handler actor for tests: echoes, throws, or takes its time.</summary>
public sealed class EchoHandler : MicroHandler
{
    public EchoHandler()
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        var node = $"{self.Host}:{self.Port}";
        Receive<Ping>(p => Sender.Tell(new Pong(p.Text, node, Request.Id, Request.Headers, Request.Remaining)));
        Receive<Boom>(b => throw new InvalidOperationException(b.Why));
        ReceiveAsync<Slow>(async s =>
        {
            var sender = Sender;
            await Task.Delay(s.Milliseconds, Request.Cancellation).ContinueWith(_ => { });
            sender.Tell(new Pong("slow", node, Request.Id, Request.Headers, Request.Remaining));
        });
    }

    /// <summary>Echo.Ping, Echo.Boom, Echo.Slow.</summary>
    public static void Register(MicroService service, int? poolSize = null) =>
        service.Handle<EchoHandler>("Echo", e => e
            .Map<Ping, Pong>("Ping")
            .Map<Boom, Pong>("Boom")
            .Map<Slow, Pong>("Slow"), poolSize);
}
