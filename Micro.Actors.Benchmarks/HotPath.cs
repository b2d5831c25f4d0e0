using System.Collections.Immutable;
using Akka.Actor;
using BenchmarkDotNet.Attributes;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;

namespace Micro.Actors.Benchmarks;

/// <summary>The pieces every call goes through, one by one (BenchmarkDotNet: <c>hotpath</c>).</summary>
[MemoryDiagnoser]
public class HotPath
{
    private ActorSystem _system = null!;
    private HyperionCodec _codec = null!;
    private Akka.Serialization.SerializerWithStringManifest _wire = null!;
    private Request _request = null!;
    private byte[] _requestBytes = null!;
    private byte[] _body = null!;
    private List<ServiceNode> _nodes = null!;
    private readonly HashSet<string> _tried = [];
    private readonly IReadOnlyList<Func<ServiceNode, bool>> _noFilters = [];
    private readonly string[] _services = [Servers.Service];
    private Wrappers.Pipeline<Wrappers.CallDelegate> _client = null!, _attempt = null!;
    private Wrappers.Pipeline<Wrappers.HandlerDelegate> _handler = null!;

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("hotpath", Akka.Configuration.ConfigurationFactory.ParseString("akka.actor.provider = local")
            .WithFallback(Config.MicroConfig.Default));
        _codec = new HyperionCodec(_system);
        _codec.AllowList.Allow(typeof(BenchRequest));
        _wire = (Akka.Serialization.SerializerWithStringManifest)_system.Serialization.FindSerializerForType(typeof(Request));
        _body = _codec.Encode(new BenchRequest(Payload.Text));
        _request = new Request(Guid.NewGuid().ToString("N"), Servers.Service, Servers.Endpoint, _body, HyperionCodec.MediaType,
            ImmutableDictionary<string, string>.Empty, TimeSpan.FromSeconds(5));
        _requestBytes = _wire.ToBinary(_request);
        var endpoints = new List<EndpointInfo> { new(Servers.Endpoint, typeof(BenchRequest).FullName!, typeof(BenchReply).FullName) };
        _nodes = Enumerable.Range(1, 5).Select(i => new ServiceNode($"n{i}", new Address("akka.tcp", "bench", "127.0.0.1", 4000 + i),
            Servers.Service, "latest", ImmutableDictionary<string, string>.Empty, endpoints, NodeStatus.Up)).ToList();
        var wrappers = Observability.Observers.AddObservers(new Wrappers.WrapperOptions());
        _client = wrappers.Client(c => c.Send(c))!;
        _attempt = wrappers.Call(c => c.Send(c))!;
        _handler = wrappers.Handler("Bench")!;
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(Description = "body encode (Hyperion)")]
    public byte[] BodyEncode() => _codec.Encode(new BenchRequest(Payload.Text));

    [Benchmark(Description = "body decode (Hyperion)")]
    public object BodyDecode() => _codec.Decode(_body, typeof(BenchRequest));

    [Benchmark(Description = "envelope encode")]
    public byte[] EnvelopeEncode() => _wire.ToBinary(_request);

    [Benchmark(Description = "envelope decode")]
    public object EnvelopeDecode() => _wire.FromBinary(_requestBytes, _wire.Manifest(_request));

    [Benchmark(Description = "selection of 5 nodes")]
    public ServiceNode Select()
    {
        var candidates = Selection.Narrow(_nodes, _services, Servers.Service, Servers.Endpoint, _noFilters, null, _tried, _ => false);
        return RandomSelector.Instance.Select(candidates.Nodes);
    }

    /// <summary>What the always-present instrumentation costs a call while nothing listens: the three checks it makes.</summary>
    [Benchmark(Description = "instrumentation checks, nobody listening (client, attempt, handler)")]
    public bool InstrumentationChecks() => _client.Current is null & _attempt.Current is null & _handler.Current is null;

    /// <summary>The caller-side check of a call against its endpoint's descriptor (kind, request type, reply type).</summary>
    [Benchmark(Description = "call shape check against the descriptor")]
    public object? CallShapeCheck() =>
        Client.CallShape.Problem(Servers.Service, _nodes[0].Endpoints[0], oneWay: false, Shape);

    private static readonly Client.CallShape Shape = new(typeof(BenchRequest), typeof(BenchReply));

    /// <summary>The string call and the typed call on a client that answers at once: what the typed layer adds (its proxy, its options).</summary>
    [Benchmark(Description = "string call on a client that answers at once")]
    public Task<BenchReply> StringCall() => Answering.CallAsync<BenchReply>(Servers.Service, Servers.Endpoint, Bench);

    [Benchmark(Description = "typed call (IBench.Echo) on the same client")]
    public Task<BenchReply> TypedCall() => TypedBench.Echo(Bench);

    private static readonly BenchRequest Bench = new(Payload.Text);
    private static readonly AnsweringClient Answering = new();
    private static readonly IBench TypedBench = Contracts.ContractExtensions.For<IBench>(Answering);

    /// <summary>An <see cref="Client.IClient"/> whose calls are answered before they are made (no wire, no actors).</summary>
    private sealed class AnsweringClient : Client.IClient
    {
        private static readonly Task<BenchReply> Reply = Task.FromResult(new BenchReply(Payload.Text));

        public Task<TResponse> CallAsync<TResponse>(string service, string endpoint, object request, Client.CallOptions? options = null,
            CancellationToken cancellationToken = default) => (Task<TResponse>)(object)Reply;
        public Task TellAsync(string service, string endpoint, object message, Client.CallOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.CompletedTask;
        public IAsyncEnumerable<TResponse> StreamAsync<TResponse>(string service, string endpoint, object request, Client.CallOptions? options = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public IAsyncEnumerable<TResponse> StreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
            Client.CallOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<TResponse> ClientStreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
            Client.CallOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task PublishAsync(string topic, object message, Broker.PublishOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.CompletedTask;
    }

    [Benchmark(Description = "error mapping (exception -> MicroError -> exception)")]
    public MicroException ErrorMapping() => MicroException.ToError(new InvalidOperationException("boom"), Servers.Service).ToException();
}
