using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Micro.Actors.Server;

namespace Micro.Actors.Benchmarks;

/// <summary>The request and reply of the Micro.Actors and raw Akka points (the same shape as the proto messages).</summary>
public sealed record BenchRequest(string Text);
public sealed record BenchReply(string Text);

/// <summary>The bench service's contract: its typed client (system micro-typed) calls the same Bench.Echo as the string call (micro).</summary>
[Micro.Actors.Contracts.MicroService(Servers.Service, Group = "Bench")]
public interface IBench
{
    Task<BenchReply> Echo(BenchRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Asks for a stream of <paramref name="Count"/> replies (the streaming points).</summary>
public sealed record StreamRequest(int Count);

/// <summary>
/// The raw Akka side of the streaming point: answers a <see cref="StreamRequest"/> with a stream ref
/// of replies, as a plain Akka.Streams user would.
/// </summary>
public sealed class StreamerActor : ReceiveActor
{
    public StreamerActor()
    {
        var materializer = Context.System.Materializer();
        Receive<StreamRequest>(r => Akka.Streams.Dsl.Source.Repeat(new BenchReply(Payload.Text)).Take(r.Count)
            .RunWith(Akka.Streams.Dsl.StreamRefs.SourceRef<BenchReply>(), materializer)
            .PipeTo(Sender));
    }
}

/// <summary>The event of the pub/sub points.</summary>
public sealed record BenchEvent(long Number, string Text);

/// <summary>Asks a subscriber node how many events it has received.</summary>
public sealed record CountRequest;
public sealed record CountReply(long Received);
/// <summary>Publish-to-handle latency of the events a subscriber handled since the last ask (then it starts again).</summary>
public sealed record LatencyRequest;
public sealed record LatencyReply(double P50Us, double P99Us, double MaxUs);

/// <summary>
/// The handler both RPC points call: a Micro.Actors endpoint (in its handler pool) and, on a plain
/// Akka node, an actor at /user/echo that raw Akka asks.
/// </summary>
public sealed class EchoActor : MicroHandler
{
    public EchoActor() => Receive<BenchRequest>(r => Sender.Tell(new BenchReply(r.Text)));
}

/// <summary>Counts events for the raw mediator point and answers <see cref="CountRequest"/>.</summary>
public sealed class CountingActor : ReceiveActor
{
    private long _received;

    public CountingActor()
    {
        Receive<BenchEvent>(_ => _received++);
        Receive<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(_ => { });
        Receive<CountRequest>(_ => Sender.Tell(new CountReply(_received)));
    }
}

/// <summary>The texts the points send: about 20 bytes, as in AKKA-NOTES' baseline.</summary>
public static class Payload
{
    public const string Text = "hello from the bench";
}
