using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Micro.Actors.Codec;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Service;

/// <summary>A batch of requests sent straight to a node's server actor, and the messages its answers come back in.</summary>
public sealed class AnswerBatchingTests
{
    private static readonly IReadOnlyDictionary<string, string> NoHeaders = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;

    /// <summary>An echo node that holds a batch's answers for <paramref name="wait"/>, a probe on a client node, and a codec.</summary>
    private static async Task<(ActorSelection Server, TestProbe Probe, HyperionCodec Codec)> EchoNodeAsync(TestCluster cluster, string wait)
    {
        var service = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s),
            o => o.Config = TestCluster.FastConfig + $"\nmicro.server.answer-batch-wait = {wait}");
        var client = await cluster.StartClientAsync();
        var server = client.System.ActorSelection($"{Akka.Cluster.Cluster.Get(service.System).SelfAddress}/system/{ServerActor.Name}");
        var codec = new HyperionCodec(client.System);
        codec.AllowList.Allow(typeof(Ping));
        codec.AllowList.Allow(typeof(Pong));
        codec.AllowList.Allow(typeof(Boom));
        codec.AllowList.Allow(typeof(Slow));
        return (server, new TestProbe(client.System, new XunitAssertions()), codec);
    }

    private static Request Envelope(HyperionCodec codec, string endpoint, object body) =>
        new(Guid.NewGuid().ToString("N"), "echo", endpoint, codec.Encode(body), codec.ContentType, NoHeaders, TimeSpan.FromSeconds(10));

    /// <summary>The answers in a message: a batch, or one alone.</summary>
    private static IReadOnlyList<Response> Answers(object message) => message switch
    {
        ResponseBatch batch => batch.Responses,
        Response one => [one],
        _ => throw new InvalidOperationException($"not an answer: {message}"),
    };

    [Fact]
    public async Task The_answers_to_one_batch_go_back_in_one_message_each_with_its_own_result()
    {
        await using var cluster = new TestCluster();
        var (server, probe, codec) = await EchoNodeAsync(cluster, "10s");
        var pings = Enumerable.Range(0, 8).Select(i => Envelope(codec, "Echo.Ping", new Ping($"p{i}"))).ToList();
        var boom = Envelope(codec, "Echo.Boom", new Boom("bad input"));
        var slow = Envelope(codec, "Echo.Slow", new Slow(300));

        server.Tell(new RequestBatch([.. pings, boom, slow]), probe.Ref);

        // The slowest takes 300 ms; the others wait for it and all come back together.
        var answers = probe.ExpectMsg<ResponseBatch>(TimeSpan.FromSeconds(10)).Responses.ToDictionary(r => r.RequestId);
        Assert.Equal(10, answers.Count);
        foreach (var ping in pings)
            Assert.Equal(((Ping)codec.Decode(ping.Body, typeof(Ping))).Text, ((Pong)codec.Decode(answers[ping.Id].Body!, typeof(Pong))).Text);
        Assert.Equal(500, answers[boom.Id].Error!.Code); // the failing one fails alone
        Assert.NotNull(Micro.Actors.Errors.HandlerFailure.IdOf(answers[boom.Id].Error!)); // its error id, not its exception's text
        Assert.DoesNotContain("bad input", answers[boom.Id].Error!.Detail);
        Assert.Equal("slow", ((Pong)codec.Decode(answers[slow.Id].Body!, typeof(Pong))).Text);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_slow_request_does_not_hold_up_the_answers_of_its_batch_past_the_wait()
    {
        await using var cluster = new TestCluster();
        var (server, probe, codec) = await EchoNodeAsync(cluster, "100ms");
        var pings = Enumerable.Range(0, 5).Select(i => Envelope(codec, "Echo.Ping", new Ping($"p{i}"))).ToList();
        var slow = Envelope(codec, "Echo.Slow", new Slow(3_000));
        var watch = Stopwatch.StartNew();

        server.Tell(new RequestBatch([slow, .. pings]), probe.Ref);

        var first = new List<Response>();
        while (first.Count < pings.Count) first.AddRange(Answers(probe.ReceiveOne(TimeSpan.FromSeconds(5))!));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"the fast answers took {watch.Elapsed}: held up by the slow one");
        Assert.Equal(pings.Select(p => p.Id).Order(), first.Select(r => r.RequestId).Order());
        Assert.All(first, r => Assert.Null(r.Error));

        var last = Answers(probe.ReceiveOne(TimeSpan.FromSeconds(10))!);
        Assert.Equal(slow.Id, Assert.Single(last).RequestId);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(2.9), $"the slow answer came after {watch.Elapsed}");
    }
}
