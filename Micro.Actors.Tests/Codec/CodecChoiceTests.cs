using System.Collections.Concurrent;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Codec;

/// <summary>Hyperion left out: nodes that speak only JSON (and protobuf), chosen by configuration.</summary>
public sealed class CodecChoiceTests
{
    private const string JsonOnly = """
        micro.codecs = ["application/json", "application/protobuf"]
        micro.client.content-type = application/json
        """;

    [Fact]
    public async Task Nodes_without_Hyperion_call_and_publish_in_JSON_and_refuse_Hyperion_with_400()
    {
        var notes = new ConcurrentQueue<Note>();
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s
                .Subscribe<Note>("notes", (n, _) => { notes.Enqueue(n); return Task.CompletedTask; })),
            o => o.Config = TestCluster.FastConfig + "\n" + JsonOnly);
        var json = await cluster.StartClientAsync(o => o.Config = TestCluster.FastConfig + "\n" + JsonOnly);
        var hyperion = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(json, "echo", 1);

        var pong = await json.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("in json"));
        Assert.Equal("in json", pong.Text);

        var refused = await Assert.ThrowsAsync<MicroException>(() => hyperion.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("x")));
        Assert.Equal(400, refused.Error.Code);
        Assert.Contains("'application/x-hyperion' is not spoken here; use one of: application/json, application/protobuf", refused.Error.Detail);

        await json.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () =>
        {
            await json.Client.PublishAsync("notes", new Note("in json"));
            await Task.Delay(100);
            return !notes.IsEmpty;
        }, TimeSpan.FromSeconds(20), "a note in JSON");
        Assert.Equal("in json", notes.First().Text);
    }

    [Theory]
    [InlineData("micro.codecs = [\"application/xml\"]", "micro.codecs", "no codec for 'application/xml'")]
    [InlineData("micro.codecs = []", "micro.codecs", "no codec")]
    [InlineData("micro.codecs = [\"application/json\"]", "micro.client.content-type", "'application/x-hyperion' is not among the codecs")]
    public void A_codec_setting_that_cannot_work_fails_at_creation_naming_the_setting(string config, string setting, string problem)
    {
        var e = Assert.Throws<MicroConfigException>(() => MicroService.Create("x", o => { o.Config = config; o.Environment = new Dictionary<string, string?>(); }));
        Assert.Equal(setting, e.Setting);
        Assert.Contains(problem, e.Message);
    }
}
