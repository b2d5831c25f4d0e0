using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Config;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;

namespace Micro.Actors.Service;

/// <summary>
/// One service = one Akka <see cref="ActorSystem"/> that joins the cluster with the service name
/// as its role. Register handlers, then <see cref="StartAsync"/> (or <see cref="RunAsync"/> in a
/// console program). Every node also has a <see cref="Client"/> and a <see cref="Registry"/>.
/// No static state: several services can live in one process (tests do that).
/// </summary>
public sealed class MicroService : IAsyncDisposable
{
    private readonly MicroServiceOptions _options;
    private readonly Akka.Configuration.Config _config;
    private readonly List<HandlerGroup> _groups = [];
    private readonly List<Streaming.StreamEndpoint> _streams = [];
    private readonly List<SubscriberSpec> _subscribers = [];
    private readonly List<SubscriptionInfo> _subscriptions = [];
    private readonly List<ISubscription> _declared = [];
    private readonly ServerState _state = new();
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private ActorSystem? _system;
    private MicroClient? _client;
    private ClusterRegistry? _registry;
    private PubSubBroker? _broker;
    private IActorRef? _descriptor;
    private IActorRef? _server;
    private Task? _stopped;

    private MicroService(string? name, MicroServiceOptions options)
    {
        Name = name;
        _options = options;
        _config = MicroConfig.Load(options.Config);
        Settings = MicroSettings.Resolve(_config, options, options.Environment);
    }

    /// <summary>A service node: it serves <paramref name="name"/> and can call other services.</summary>
    public static MicroService Create(string name, Action<MicroServiceOptions>? configure = null)
    {
        if (string.IsNullOrWhiteSpace(name) || name.StartsWith(RegistryActor.DataCenterRolePrefix, StringComparison.Ordinal) || name.Any(char.IsWhiteSpace))
            throw new ArgumentException($"'{name}' is not a service name: use a word like \"greeter\"", nameof(name));
        var options = new MicroServiceOptions();
        configure?.Invoke(options);
        return new MicroService(name, options);
    }

    /// <summary>A node that only calls and watches services (a client, a tool): it has no role.</summary>
    public static MicroService CreateClient(Action<MicroServiceOptions>? configure = null)
    {
        var options = new MicroServiceOptions();
        configure?.Invoke(options);
        return new MicroService(null, options);
    }

    /// <summary>The service name; null for a client-only node.</summary>
    public string? Name { get; }

    /// <summary>The resolved settings (defaults, environment and options).</summary>
    public MicroSettings Settings { get; }

    public ActorSystem System => _system ?? throw NotStarted();
    public IClient Client => _client ?? throw NotStarted();
    public IRegistry Registry => _registry ?? throw NotStarted();
    public IBroker Broker => _broker ?? throw NotStarted();

    /// <summary>The subscriptions made with <see cref="Subscribe{T}(string, Func{T, EventContext, Task}, string?)"/>, once started.</summary>
    public IReadOnlyList<ISubscription> Subscriptions => _declared;

    /// <summary>"host:port" this node listens on (the real port when started with port 0).</summary>
    public string Address => Cluster.Get(System).SelfAddress is var a ? $"{a.Host}:{a.Port}" : "";

    /// <summary>Completes when this node is Up in the cluster.</summary>
    public Task WhenUp => _up.Task;

    /// <summary>Completes when this node is Up and knows every service node that is Up.</summary>
    public Task WhenReady => _registry?.WhenReady ?? throw NotStarted();

    /// <summary>Serves the endpoints in <paramref name="endpoints"/> with a pool of <typeparamref name="THandler"/> actors.</summary>
    public MicroService Handle<THandler>(string group, Action<EndpointMap> endpoints, int? poolSize = null)
        where THandler : MicroHandler, new() =>
        Handle(group, Props.Create<THandler>(), endpoints, poolSize);

    /// <summary>Serves the endpoints of <paramref name="group"/> with a pool of actors made from <paramref name="props"/>.</summary>
    public MicroService Handle(string group, Props props, Action<EndpointMap> endpoints, int? poolSize = null)
    {
        if (string.IsNullOrWhiteSpace(group) || group.Contains('.'))
            throw new ArgumentException($"'{group}' is not a handler group: use a word like \"Greeter\"", nameof(group));
        if (!typeof(MicroHandler).IsAssignableFrom(props.Type))
            throw new ArgumentException($"{props.Type.Name} is not a MicroHandler: handler actors derive from MicroHandler, so a failure still answers the call", nameof(props));
        var map = new EndpointMap(group);
        endpoints(map);
        return Add(new HandlerGroup(group, props, map.Endpoints, poolSize));
    }

    /// <summary>Serves <paramref name="endpoint"/> ("Greeter.Hello") with an async function.</summary>
    public MicroService Handle<TRequest, TResponse>(string endpoint, Func<TRequest, RequestContext, Task<TResponse>> handler, int? poolSize = null)
    {
        var (group, method) = SplitEndpoint(endpoint);
        var map = new EndpointMap(group).Map<TRequest, TResponse>(method);
        Func<object, RequestContext, Task<object?>> run = async (m, c) => await handler((TRequest)m, c).ConfigureAwait(true);
        return Add(new HandlerGroup(endpoint, Props.Create(() => new FunctionHandler(run)), map.Endpoints, poolSize));
    }

    /// <summary>Serves a one-way <paramref name="endpoint"/> (for <c>Tell</c>) with an async function.</summary>
    public MicroService Handle<TRequest>(string endpoint, Func<TRequest, RequestContext, Task> handler, int? poolSize = null)
    {
        var (group, method) = SplitEndpoint(endpoint);
        var map = new EndpointMap(group).Map<TRequest>(method);
        Func<object, RequestContext, Task<object?>> run = async (m, c) => { await handler((TRequest)m, c).ConfigureAwait(true); return null; };
        return Add(new HandlerGroup(endpoint, Props.Create(() => new FunctionHandler(run)), map.Endpoints, poolSize));
    }

    /// <summary>Serves <paramref name="endpoint"/> as a server stream: one request, the replies the function yields (back-pressured: it waits while the caller is behind).</summary>
    public MicroService HandleServerStream<TRequest, TResponse>(string endpoint, Func<TRequest, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        AddStream(Streaming.StreamEndpoint.ServerStream(Checked(endpoint), handler));

    /// <summary>Serves <paramref name="endpoint"/> as a client stream: the caller's requests in (read them at your pace), one reply out.</summary>
    public MicroService HandleClientStream<TRequest, TResponse>(string endpoint, Func<IAsyncEnumerable<TRequest>, RequestContext, Task<TResponse>> handler) =>
        AddStream(Streaming.StreamEndpoint.ClientStream(Checked(endpoint), handler));

    /// <summary>Serves <paramref name="endpoint"/> as a bidirectional stream: requests in and replies out, each at its own pace.</summary>
    public MicroService HandleBidiStream<TRequest, TResponse>(string endpoint, Func<IAsyncEnumerable<TRequest>, RequestContext, IAsyncEnumerable<TResponse>> handler) =>
        AddStream(Streaming.StreamEndpoint.Bidirectional(Checked(endpoint), handler));

    /// <summary>
    /// Serves <paramref name="endpoint"/> as a stream of <paramref name="kind"/> with an actor per stream, made from
    /// <paramref name="props"/>: it gets a <see cref="Streaming.StreamCall{TRequest}"/> and replies with the
    /// <c>Source&lt;TResponse, NotUsed&gt;</c> of its replies (back-pressure is the source's own).
    /// </summary>
    public MicroService HandleStream<TRequest, TResponse>(string endpoint, Streaming.StreamKind kind, Props props) =>
        AddStream(Streaming.StreamEndpoint.Actor<TRequest, TResponse>(Checked(endpoint), kind, props));

    private static string Checked(string endpoint)
    {
        SplitEndpoint(endpoint);
        return endpoint;
    }

    private MicroService AddStream(Streaming.StreamEndpoint stream)
    {
        if (Name is null) throw new InvalidOperationException("A client-only node serves no endpoints: use MicroService.Create(name)");
        if (_system is not null) throw new InvalidOperationException("Register handlers before the service starts");
        if (_groups.SelectMany(g => g.Endpoints).Any(e => e.Name == stream.Name) || _streams.Any(e => e.Name == stream.Name))
            throw new ArgumentException($"{stream.Name} already has a handler");
        _streams.Add(stream);
        return this;
    }

    /// <summary>
    /// Subscribes a function to <paramref name="topic"/> (go-micro's RegisterSubscriber). With a
    /// <paramref name="queue"/>, each event goes to one member of the queue group; without, to every subscriber.
    /// </summary>
    public MicroService Subscribe<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null) =>
        AddSubscriber(new SubscriberSpec(topic, queue, typeof(T), (m, c) => handler((T)m, c), null));

    /// <summary>Subscribes an actor (a <see cref="MicroSubscriber"/> that receives <typeparamref name="T"/>) to <paramref name="topic"/>.</summary>
    public MicroService Subscribe<TSubscriber, T>(string topic, string? queue = null) where TSubscriber : MicroSubscriber, new() =>
        AddSubscriber(new SubscriberSpec(topic, queue, typeof(T), null, Props.Create<TSubscriber>()));

    private MicroService AddSubscriber(SubscriberSpec spec)
    {
        if (_system is not null) throw new InvalidOperationException("Declare subscribers before the service starts (or use Broker.SubscribeAsync)");
        _subscribers.Add(spec);
        return this;
    }

    /// <summary>Starts the node and begins joining the cluster (see <see cref="WhenUp"/>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_system is not null || _stopped is not null) throw new InvalidOperationException("The service was started already");
            _stopped = Task.CompletedTask; // claims the start
        }
        foreach (var hook in _options.BeforeStart) await hook().ConfigureAwait(false);

        // The allow-list of the node's serializer: set up before the system exists, so no message
        // is ever read without it.
        var allowList = new TypeAllowList(Settings.AllowedTypes);
        foreach (var endpoint in _groups.SelectMany(g => g.Endpoints))
        {
            allowList.Allow(endpoint.RequestType);
            if (endpoint.ResponseType is { } response) allowList.Allow(response);
        }
        foreach (var spec in _subscribers) allowList.Allow(spec.MessageType);
        foreach (var stream in _streams)
        {
            allowList.Allow(stream.RequestType);
            allowList.Allow(stream.ResponseType);
        }
        var setup = BootstrapSetup.Create()
            .WithConfig(MicroConfig.ForNode(_config, Settings, Name))
            .And(new TypeAllowListSetup(allowList));
        if (Settings.Tls is { } tls) setup = setup.And(Tls.Setup(tls));
        var system = ActorSystem.Create(Settings.ClusterName, setup);
        Cluster cluster;
        try
        {
            cluster = Cluster.Get(system);
            // Our own mediator (same path on every node), whose queue-group routing avoids nodes that are down.
            var health = new NodeHealth();
            var mediator = system.ActorOf(DistributedPubSubMediator.Props(
                DistributedPubSubSettings.Create(system).WithRoutingLogic(new AvoidingRoutingLogic(health))), "micro-pubsub");
            cluster.RegisterOnMemberUp(() => _up.TrySetResult());

            var codecs = new Codecs([new HyperionCodec(system), JsonCodec.Instance, .. _options.Codecs]);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var registry = system.ActorOf(Props.Create(() => new RegistryActor(Settings.DescriptorTimeout, ready, mediator, health, Settings.Sideline)), RegistryActor.Name);
            if (Name is not null)
            {
                var groups = _groups.ToList();
                var self = cluster.SelfAddress;
                var identity = new ServerActor.NodeIdentity(Name, Settings.Version, $"{self.Host}:{self.Port}", DateTime.UtcNow);
                var streamCounters = _streams.ToDictionary(s => s.Name, _ => new EndpointCounters(), StringComparer.Ordinal);
                var server = _server = system.ActorOf(Props.Create(() => new ServerActor(identity, groups, Settings.PoolSize, Settings.QueueSize, _state, codecs,
                    Settings.MaxPayloadBytes, Settings.AnswerBatchWait, streamCounters)), ServerActor.Name);
                var descriptor = new NodeDescriptor(Name, Settings.Version, _options.Metadata.ToImmutableDictionary(),
                    [.. groups.SelectMany(g => g.Endpoints).Select(Describe), .. _streams.Select(Describe)], server);
                system.ActorOf(Props.Create(() => new Streaming.StreamServerActor(_streams.ToList(), codecs, Settings.StreamBuffer, Settings.StreamIdleTimeout, Settings.MaxPayloadBytes, streamCounters)),
                    Streaming.StreamServerActor.Name);
                _descriptor = system.ActorOf(Props.Create(() => new DescriptorActor(descriptor, mediator)), DescriptorActor.Name);
            }
            _broker = new PubSubBroker(system, mediator, registry, codecs, Settings.MaxPayloadBytes, OnSubscriptionChange, Settings.DrainTimeout);

            _client = new MicroClient(system, registry, new ClientDefaults(
                Settings.RequestTimeout, Settings.Retries,
                _options.Selector ?? (Settings.Strategy == "round-robin" ? new RoundRobinSelector() : RandomSelector.Instance),
                Settings.Sideline, Settings.DeadlineCheckInterval, RetryPolicy.OnNodeFailure, NotJoinedReason) { HeardWithin = Settings.BatchWait }, _broker, codecs, Settings.MaxPayloadBytes, Settings.StreamIdleTimeout, Settings.StreamBuffer);
            _registry = new ClusterRegistry(registry, ready.Task, Settings.RequestTimeout, NotJoinedReason);
            AddShutdownTasks(system, cluster);
        }
        catch
        {
            // A node that could not be wired must not keep its port (and the service may be started again).
            await system.Terminate().ConfigureAwait(false);
            lock (_gate) _stopped = null;
            throw;
        }
        _system = system;
        _stopped = AfterStopAsync(system);
        // Subscribed before joining, so the descriptor other nodes fetch lists them from the start.
        foreach (var spec in _subscribers) _declared.Add(await _broker.SubscribeAsync(spec, cancellationToken).ConfigureAwait(false));

        var seeds = Settings.SeedNodes.Count == 0
            ? [cluster.SelfAddress]
            : Settings.SeedNodes.Select(s => new Akka.Actor.Address(cluster.SelfAddress.Protocol, Settings.ClusterName, s.Host, s.Port)).ToList();
        cluster.JoinSeedNodes(seeds);
        system.Log.Info("{0} {1} started at {2}; joining {3}", Name ?? "client", Settings.Version, Address,
            Settings.SeedNodes.Count == 0 ? "itself (a new cluster)" : string.Join(", ", Settings.SeedNodes));
        _ = _up.Task.ContinueWith(_ => system.Log.Info("{0} at {1} is Up in cluster {2}", Name ?? "client", Address, Settings.ClusterName),
            TaskContinuationOptions.OnlyOnRanToCompletion);

        foreach (var hook in _options.AfterStart) await hook().ConfigureAwait(false);
    }

    /// <summary>
    /// Graceful stop: leave the cluster (callers stop choosing this node), let in-flight requests
    /// finish, end the actor system, then run AfterStop hooks.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_system is not { } system) return;
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).ConfigureAwait(false);
        await (_stopped ?? Task.CompletedTask).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts, serves until Ctrl+C, SIGTERM, <paramref name="cancellationToken"/> or the system ending, then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext c) { c.Cancel = true; stop.TrySetResult(); }
        using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal))
        using (PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal))
        using (cancellationToken.Register(() => stop.TrySetResult()))
        {
            await Task.WhenAny(stop.Task, System.WhenTerminated).ConfigureAwait(false);
        }
        System.Log.Info("{0} at {1} is stopping", Name ?? "client", Address);
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private MicroService Add(HandlerGroup group)
    {
        if (Name is null) throw new InvalidOperationException("A client-only node serves no endpoints: use MicroService.Create(name)");
        if (_system is not null) throw new InvalidOperationException("Register handlers before the service starts");
        var taken = _groups.SelectMany(g => g.Endpoints).Select(e => e.Name).Intersect(group.Endpoints.Select(e => e.Name)).ToList();
        taken.AddRange(_streams.Select(e => e.Name).Intersect(group.Endpoints.Select(e => e.Name)));
        if (taken.Count > 0) throw new ArgumentException($"{string.Join(", ", taken)} already has a handler");
        _groups.Add(group);
        return this;
    }

    private static EndpointInfo Describe(EndpointSpec e) =>
        new(e.Name, e.RequestType.FullName!, e.ResponseType?.FullName, Shape(e.RequestType), Shape(e.ResponseType));

    private static EndpointInfo Describe(Streaming.StreamEndpoint e) =>
        new(e.Name, e.RequestType.FullName!, e.ResponseType.FullName, Shape(e.RequestType), Shape(e.ResponseType), e.Kind);

    private static string? Shape(Type? t)
    {
        if (t is null) return null;
        try { return JsonCodec.Shape(t); }
        catch (Exception) { return null; } // a type JSON cannot describe still serves .NET callers
    }

    private void OnSubscriptionChange(SubscriptionInfo info, bool added)
    {
        lock (_subscriptions)
        {
            if (added) _subscriptions.Add(info);
            else _subscriptions.Remove(info);
            _descriptor?.Tell(new DescriptorActor.SetSubscriptions(_subscriptions.ToList()));
        }
    }

    private void AddShutdownTasks(ActorSystem system, Cluster cluster)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "micro-before-stop", async () =>
        {
            foreach (var hook in _options.BeforeStop) await hook().ConfigureAwait(false);
            return Done.Instance;
        });
        // Leave first, so that callers stop choosing this node, then let in-flight requests finish.
        // The node is Exiting only once every reachable member has seen it leave, so by then no
        // router picks it any more.
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "micro-leave-and-drain", async () =>
        {
            var deadline = DateTime.UtcNow + Settings.DrainTimeout; // leaving and draining share it
            if (Name is not null && cluster.SelfMember.Status == MemberStatus.Up)
            {
                cluster.Leave(cluster.SelfAddress);
                await WaitUntil(() => cluster.SelfMember.Status is not (MemberStatus.Up or MemberStatus.Leaving), deadline).ConfigureAwait(false);
            }
            await WaitUntil(() => _state.InFlight == 0 || DateTime.UtcNow > _state.LatestDeadline, deadline).ConfigureAwait(false);
            if (_state.InFlight > 0)
                system.Log.Warning("Stopping with {0} request(s) still running after the drain timeout", _state.InFlight);
            // Stragglers from callers that have not heard of the leave yet get 503 and retry elsewhere.
            _server?.Tell(ServerActor.StopAccepting.Instance);
            return Done.Instance;
        });
    }

    private async Task AfterStopAsync(ActorSystem system)
    {
        await system.WhenTerminated.ConfigureAwait(false);
        foreach (var hook in _options.AfterStop) await hook().ConfigureAwait(false);
    }

    private static async Task WaitUntil(Func<bool> condition, DateTime deadlineUtc)
    {
        while (!condition() && DateTime.UtcNow < deadlineUtc)
            await Task.Delay(20).ConfigureAwait(false);
    }

    private string NotJoinedReason() => Settings.SeedNodes.Count == 0
        ? $"this node ({Address}) has not joined its own new cluster yet"
        : $"this node has not joined the cluster: no answer from seed node(s) {string.Join(", ", Settings.SeedNodes)}; " +
          $"are they running, and do they use the cluster name '{Settings.ClusterName}' and TLS {(Settings.Tls is null ? "off" : "on, trusting this node's certificate")} like this node?";

    private static (string Group, string Method) SplitEndpoint(string endpoint)
    {
        var dot = endpoint.IndexOf('.');
        if (dot <= 0 || dot == endpoint.Length - 1 || endpoint.IndexOf('.', dot + 1) >= 0)
            throw new ArgumentException($"'{endpoint}' is not an endpoint: use Group.Method, e.g. Greeter.Hello", nameof(endpoint));
        return (endpoint[..dot], endpoint[(dot + 1)..]);
    }

    private static InvalidOperationException NotStarted() => new("The service has not been started: call StartAsync or RunAsync first");
}
