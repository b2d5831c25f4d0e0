using System.Text;
using Akka.Actor;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Samples.PubSub;
using Micro.Actors.Server;

namespace Micro.Actors.Tests.Codec;

public sealed class CodecTests : IDisposable
{
    // A system made without MicroService reads its allow-list from HOCON.
    // Local: a codec needs no cluster (a cluster node would bind a port and take seconds to leave).
    private readonly ActorSystem _system = ActorSystem.Create("codec", Akka.Configuration.ConfigurationFactory
        .ParseString("""
            micro.serialization.allowed-types = ["Micro.Actors.Samples", "Micro.Actors.Tests"]
            akka.actor.provider = local
            """)
        .WithFallback(Micro.Actors.Config.MicroConfig.Default));

    public static TheoryData<object> SampleMessages() =>
    [
        new HelloRequest("Ann"),
        new HelloReply("Hello Ann", "127.0.0.1:4053"),
        new AuditEvent("ann", "logged in"),
        new WaitRequest(250),
        new Tick(7, "tick 7 of 9"),
        new HealthReply("ok", "greeter", "1.0.0", "127.0.0.1:4053"),
        new StatsReply("greeter", "127.0.0.1:4053", new DateTime(2026, 11, 26, 9, 0, 0, DateTimeKind.Utc), TimeSpan.FromMinutes(3), 1 << 20, 18, 1, 2, 3,
            [new EndpointStats("Greeter.Hello", 10, 1)]),
        MicroError.NotFound("greeter", "no such thing"),
    ];

    [Theory]
    [MemberData(nameof(SampleMessages))]
    public void Every_sample_message_round_trips_through_both_codecs(object message)
    {
        foreach (ICodec codec in new ICodec[] { JsonCodec.Instance, new HyperionCodec(_system) })
        {
            var back = codec.Decode(codec.Encode(message), message.GetType());
            Assert.Equal(Normalize(message), Normalize(back));
        }
    }

    private static string Normalize(object o) => System.Text.Json.JsonSerializer.Serialize(o, o.GetType());

    [Fact]
    public void JSON_uses_camelCase_and_reads_any_case()
    {
        Assert.Equal("""{"name":"Ann"}""", Encoding.UTF8.GetString(JsonCodec.Instance.Encode(new HelloRequest("Ann"))));
        Assert.Equal(new HelloRequest("Bo"), JsonCodec.Instance.Decode("""{"NAME":"Bo"}"""u8.ToArray(), typeof(HelloRequest)));
        Assert.Equal(new Tick(3, "x"), JsonCodec.Instance.Decode("""{"number":3,"Text":"x","extra":true}"""u8.ToArray(), typeof(Tick)));
    }

    [Theory]
    [InlineData("""{"name":""", "malformed JSON")]
    [InlineData("""not json""", "malformed JSON")]
    [InlineData("""{"number":"three","text":"x"}""", "does not fit Tick")]
    [InlineData("""{"text":"x"}""", "does not fit Tick")]
    [InlineData("""{"number":1,"text":null}""", "does not fit Tick")]
    [InlineData("""null""", "null is not a Tick")]
    public void JSON_that_does_not_fit_gets_a_readable_reason(string json, string expected)
    {
        var e = Assert.Throws<CodecException>(() => JsonCodec.Instance.Decode(Encoding.UTF8.GetBytes(json), typeof(Tick)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Shapes_show_field_names_and_types()
    {
        Assert.Equal("""{"name":"string"}""", JsonCodec.Shape(typeof(HelloRequest)));
        Assert.Equal("""{"number":"integer","text":"string"}""", JsonCodec.Shape(typeof(Tick)));
        Assert.Contains("\"endpoints\":[{\"endpoint\":\"string\",\"served\":\"integer\",\"failed\":\"integer\"}]", JsonCodec.Shape(typeof(StatsReply)));
    }

    [Fact]
    public void Hyperion_refuses_bytes_of_another_type()
    {
        var codec = new HyperionCodec(_system);
        Assert.Throws<CodecException>(() => codec.Decode(codec.Encode(new Tick(1, "x")), typeof(HelloRequest)));
    }

    [Theory]
    // As Hyperion writes names on the wire...
    [InlineData("Micro.Actors.Server.Request, Micro.Actors", true)]
    [InlineData("Akka.Actor.ActorRefBase+Surrogate, Akka", true)]
    [InlineData("System.Collections.Generic.List`1[[System.String,%core%]],%core%", true)]
    [InlineData("System.Collections.Generic.Dictionary`2[[System.String,%core%],[MyCo.Contracts.Order, MyCo.Contracts]],%core%", true)]
    [InlineData("System.Collections.Generic.List`1[[System.Text.StringBuilder,%core%]],%core%", false)]
    [InlineData("System.Collections.Immutable.ImmutableList`1[[MyCo.Evil.Gadget, MyCo.Evil]], System.Collections.Immutable", false)]
    [InlineData("MyCo.Contracts.Order[], MyCo.Contracts", true)]
    [InlineData("MyCo.Contracts.Order+Line, MyCo.Contracts", true)]
    [InlineData("MyCo.Billing.Invoice, MyCo.Billing", true)] // allowed by namespace
    [InlineData("MyCo.BillingX.Invoice, MyCo.BillingX", false)] // a prefix is not a namespace
    [InlineData("System.Diagnostics.Process, System.Diagnostics.Process", false)]
    [InlineData("System.IO.FileInfo, %core%", false)]
    [InlineData("Micro.Actors.Evil, SomeOther", false)] // trusted assemblies are trusted by assembly, not by name
    // ...and as the sending side asks, fully qualified.
    [InlineData("MyCo.Contracts.Order, MyCo.Contracts, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null", true)]
    [InlineData("System.Collections.Generic.List`1[[MyCo.Contracts.Order, MyCo.Contracts, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null]], System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e", true)]
    [InlineData("System.Collections.Generic.List`1[[System.Net.WebClient, System.Net.WebClient, Version=10.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51]], System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e", false)]
    [InlineData("", false)]
    [InlineData("System.Collections.Generic.List`1[[", false)]
    public void The_allow_list_checks_every_type_named_including_type_arguments(string typeName, bool allowed)
    {
        var list = new TypeAllowList(["MyCo.Contracts", "MyCo.Billing"]);
        Assert.Equal(allowed, list.IsAllowed(typeName));
    }

    [Fact]
    public void Allowing_a_type_allows_its_assembly_and_those_of_its_type_arguments()
    {
        var list = new TypeAllowList();
        Assert.False(list.IsAllowed("Micro.Actors.Samples.PubSub.Tick, Micro.Actors.Samples"));
        list.Allow(typeof(List<HelloRequest>));
        Assert.True(list.IsAllowed("Micro.Actors.Samples.PubSub.Tick, Micro.Actors.Samples"));
        Assert.Equal(["Micro.Actors.Samples"], list.Entries);
    }

    [Fact]
    public void Hyperion_will_not_write_or_read_a_type_off_the_list()
    {
        var codec = new HyperionCodec(_system);
        var write = Assert.Throws<CodecException>(() => codec.Encode(new StringBuilder("x")));
        Assert.Contains("System.Text.StringBuilder", write.Message);
        Assert.Contains("micro.serialization.allowed-types", write.Message);
    }

    [Fact]
    public void Envelopes_round_trip_and_one_of_an_unknown_format_is_refused_saying_to_upgrade()
    {
        var envelopes = new EnvelopeSerializer((ExtendedActorSystem)_system);
        var request = new Request("id", "greeter", "Greeter.Hello", [1, 2], "application/json", new Dictionary<string, string> { ["k"] = "v" }, TimeSpan.FromSeconds(2));
        var back = (Request)envelopes.FromBinary(envelopes.ToBinary(request), envelopes.Manifest(request));
        Assert.Equal((request.Id, request.Endpoint, request.Headers["k"], request.Timeout), (back.Id, back.Endpoint, back.Headers["k"], back.Timeout));
        Assert.Equal("Q", envelopes.Manifest(request)); // format 1: the bare letter
        var newer = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => envelopes.FromBinary([0], "Q2"));
        Assert.Contains($"reads envelope format {EnvelopeSerializer.FormatVersion}", newer.Message);
        Assert.Contains("upgrade this node", newer.Message);
    }

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
