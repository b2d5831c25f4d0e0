using System.Text;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Samples.Greeter.Proto;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Codec;

/// <summary>application/protobuf, and protobuf messages in application/json (protobuf's JSON mapping).</summary>
public sealed class ProtobufTests
{
    private static readonly GreetRequest Ann = new() { Name = "Ann", Titles = { "Dr" }, Times = 1L << 40 };

    [Fact]
    public void A_message_round_trips_in_protobuf_and_in_its_JSON_mapping()
    {
        var bytes = ProtobufCodec.Instance.Encode(Ann);
        Assert.Equal(Ann, ProtobufCodec.Instance.Decode(bytes, typeof(GreetRequest)));

        var json = Encoding.UTF8.GetString(JsonCodec.Instance.Encode(Ann));
        Assert.Equal("""{ "name": "Ann", "titles": [ "Dr" ], "times": "1099511627776" }""", json);
        // Names as in the .proto or in lowerCamelCase, 64-bit integers as numbers too, unknown fields ignored.
        Assert.Equal(Ann, JsonCodec.Instance.Decode("""{"name":"Ann","titles":["Dr"],"times":1099511627776,"extra":true}"""u8.ToArray(), typeof(GreetRequest)));
    }

    [Fact]
    public void Wrong_types_and_bad_bytes_are_codec_errors_that_say_why()
    {
        Assert.Contains("not a protobuf message", Assert.Throws<CodecException>(() => ProtobufCodec.Instance.Encode(new Ping("x"))).Message);
        Assert.Contains("not a protobuf message", Assert.Throws<CodecException>(() => ProtobufCodec.Instance.Decode(new byte[] { 1 }, typeof(Ping))).Message);
        Assert.Contains("not a protobuf GreetRequest", Assert.Throws<CodecException>(() => ProtobufCodec.Instance.Decode(new byte[] { 0xFF, 0xFF, 0xFF }, typeof(GreetRequest))).Message);
        Assert.Contains("does not fit the protobuf GreetRequest", Assert.Throws<CodecException>(() => JsonCodec.Instance.Decode("""{"name":5}"""u8.ToArray(), typeof(GreetRequest))).Message);
        Assert.Contains("malformed JSON", Assert.Throws<CodecException>(() => JsonCodec.Instance.Decode("""{"name":"""u8.ToArray(), typeof(GreetRequest))).Message);
    }

    [Fact]
    public void The_shape_of_a_message_is_its_JSON_mapping()
    {
        Assert.Equal("""{"name":"string","titles":["string"],"times":"string"}""", JsonCodec.Shape(typeof(GreetRequest)));
        Assert.Equal("""{"message":"string","length":"integer"}""", JsonCodec.Shape(typeof(GreetReply)));
    }

    [Fact]
    public async Task A_protobuf_endpoint_answers_protobuf_and_JSON_callers_and_describes_its_JSON_shape()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("greeter", s => s.Handle<GreetRequest, GreetReply>("Greeter.Greet",
            (r, _) => Task.FromResult(new GreetReply { Message = $"Hello {r.Name}", Length = r.Titles.Count })));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "greeter", 1);
        var options = new CallOptions { ContentType = ProtobufCodec.MediaType, Timeout = TimeSpan.FromSeconds(10) };

        var reply = await caller.Client.CallAsync<GreetReply>("greeter", "Greeter.Greet", Ann, options);
        Assert.Equal(new GreetReply { Message = "Hello Ann", Length = 1 }, reply);

        var raw = await caller.Client.CallAsync<byte[]>("greeter", "Greeter.Greet", """{"name":"Bo"}"""u8.ToArray(), options with { ContentType = JsonCodec.MediaType });
        Assert.Equal("""{ "message": "Hello Bo", "length": 0 }""", Encoding.UTF8.GetString(raw));

        var wrong = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<GreetReply>("greeter", "Greeter.Greet", new Ping("x"), options));
        Assert.Equal(400, wrong.Error.Code);
        Assert.Contains("not a protobuf message", wrong.Error.Detail);

        var endpoint = (await caller.Registry.GetServiceAsync("greeter"))!.Nodes.Single().Endpoints.Single(e => e.Name == "Greeter.Greet");
        Assert.Equal("""{"name":"string","titles":["string"],"times":"string"}""", endpoint.RequestShape);
    }
}
