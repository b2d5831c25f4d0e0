using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Akka;
using Akka.Actor;
using Akka.Actor.Setup;
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
using Micro.Actors.Errors;

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
    private Observability.NodeFigures? _figures;
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes once the client, registry and broker exist (the node's actor system is wired).</summary>
    private readonly TaskCompletionSource _wired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly HandlerServices _services;
    private readonly List<IDisposable> _signals = [];
    private ActorSystem? _system;
    private ILoggingAdapter? _log;
    private string _address = "";
    private MicroClient? _client;
    private IRegistry? _registry;
    private IActorRef? _registryActor;
    private PubSubBroker? _pubsub;
    private IBroker? _broker;
    private IActorRef? _descriptor;
    private IActorRef? _server;
    private IActorRef? _streamServer;
    private Task? _stopped;

    private MicroService(string? name, MicroServiceOptions options)
    {
        Name = name;
        _options = options;
        _config = MicroConfig.Load(options.Config);
        // A client-only node takes any free port unless told otherwise: two clients on one host must not collide.
        var defaultPort = name is null && !MicroConfig.Sets(options.Config, "micro.port") ? 0 : (int?)null;
        Settings = MicroSettings.Resolve(_config, options, options.Environment, defaultPort);
        _services = new HandlerServices(options.Services, name ?? "client");
        Client = new StartingClient(this);
        Registry = new StartingRegistry(this);
        Broker = new StartingBroker(this);
    }

    /// <summary>A service node: it serves <paramref name="name"/> and can call other services.</summary>
    public static MicroService Create(string name, Action<MicroServiceOptions>? configure = null)
    {
        var options = new MicroServiceOptions();
        configure?.Invoke(options);
        return Of(name, options);
    }

    /// <summary>A node that only calls and watches services (a client, a tool): it has no role, and takes any free port unless told one.</summary>
    public static MicroService CreateClient(Action<MicroServiceOptions>? configure = null)
    {
        var options = new MicroServiceOptions();
        configure?.Invoke(options);
        return new MicroService(null, options);
    }

    /// <summary>A node of <paramref name="name"/> (null: client-only) from options made elsewhere (a host's).</summary>
    internal static MicroService Of(string? name, MicroServiceOptions options)
    {
        if (name is not null && (string.IsNullOrWhiteSpace(name) || name.StartsWith(RegistryActor.DataCenterRolePrefix, StringComparison.Ordinal)
                || name.Any(char.IsWhiteSpace) || name.Contains(':')))
            throw new ArgumentException($"'{name}' is not a service name: use a word like \"greeter\"", nameof(name));
        return new MicroService(name, options);
    }

    /// <summary>The service name; null for a client-only node.</summary>
    public string? Name { get; }

    /// <summary>The resolved settings (defaults, environment and options).</summary>
    internal MicroSettings Settings { get; }

    /// <summary>The version this node announces (its nodes are filtered by it).</summary>
    internal string Version => Settings.Version;

    /// <summary>The application's service provider, when the node has one (its handlers are made by DI).</summary>
    internal IServiceProvider? Provider => _options.Services;

    public ActorSystem System => _system ?? throw NotStarted();

    /// <summary>This node's client. Usable before the node has started: a call then waits for the start, within its own deadline.</summary>
    public IClient Client { get; }

    /// <summary>This node's registry (waits for the start like <see cref="Client"/>).</summary>
    public IRegistry Registry { get; }

    /// <summary>This node's broker (waits for the start like <see cref="Client"/>).</summary>
    public IBroker Broker { get; }

    /// <summary>The subscriptions made with <see cref="Subscribe{T}(string, Func{T, EventContext, Task}, string?)"/>, once started.</summary>
    public IReadOnlyList<ISubscription> Subscriptions => _declared;

    /// <summary>"host:port" this node listens on (the real port when started with port 0); empty before it starts.</summary>
    public string Address => _address;

    /// <summary>
    /// Completes when this node is Up in the cluster. Fails (a 503 <see cref="Errors.MicroException"/>) if
    /// the node stops first — it was stopped, downed, or gave up joining
    /// (<c>akka.cluster.shutdown-after-unsuccessful-join-seed-nodes</c>); <paramref name="cancellationToken"/> ends the wait.
    /// </summary>
    public Task WhenUpAsync(CancellationToken cancellationToken = default) => _up.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Completes when this node knows the cluster: it has joined (a client need not wait for the leader to
    /// move it Up) and has fetched the descriptor of every service node it has heard of. Fails like <see cref="WhenUpAsync"/>.
    /// </summary>
    public Task WhenReadyAsync(CancellationToken cancellationToken = default) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>Whether the node's actor system exists (it has started; it may have stopped since).</summary>
    public bool IsStarted => _system is not null;

    /// <summary>Whether the node has begun to stop (it leaves, drains and ends; readiness checks report it).</summary>
    public bool IsStopping => _system is { } system && CoordinatedShutdown.Get(system).ShutdownReason is not null;

    /// <summary>Serves the endpoints in <paramref name="endpoints"/> with a pool of <typeparamref name="THandler"/> actors.</summary>
    /// <remarks>
    /// With a service provider (Micro.Actors.Hosting, or <see cref="MicroServiceOptions.Services"/>) the actors
    /// are made by dependency injection: constructor parameters are resolved from a scope of each actor's own
    /// (singletons stay singletons; a scoped service lives as long as the actor). Per request, use
    /// <c>Request.Services</c>. Without one, <typeparamref name="THandler"/> needs a parameterless constructor.
    /// </remarks>
    public MicroService Handle<THandler>(string group, Action<EndpointMap> endpoints, int? poolSize = null)
        where THandler : MicroHandler =>
        Handle(group, ActorProps(typeof(THandler)), endpoints, poolSize);

    /// <summary>Serves the endpoints of <paramref name="group"/> with a pool of actors made from <paramref name="props"/>.</summary>
    public MicroService Handle(string group, Props props, Action<EndpointMap> endpoints, int? poolSize = null)
    {
        if (!EndpointName.IsWord(group))
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

    /// <summary>Serves a stream with a <typeparamref name="TActor"/> per stream, made like handler actors (by dependency injection when the node has a provider).</summary>
    public MicroService HandleStream<TActor, TRequest, TResponse>(string endpoint, Streaming.StreamKind kind) where TActor : ActorBase =>
        HandleStream<TRequest, TResponse>(endpoint, kind, ActorProps(typeof(TActor)));

    private Props ActorProps(Type type)
    {
        HandlerServices.CheckConstructible(type, _options.Services);
        return _options.Services is null ? Props.Create(type) : _services.PropsFor(type);
    }

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
        AddSubscriber(new SubscriberSpec(topic, queue, typeof(T), (m, c) => handler((T)m, c), null)
        {
            Through = (broker, ct) => broker.SubscribeAsync(topic, handler, queue, ct),
        });

    /// <summary>Subscribes an actor (a <see cref="MicroSubscriber"/> that receives <typeparamref name="T"/>) to <paramref name="topic"/>.</summary>
    /// <remarks>Made like handler actors: by dependency injection when the node has a service provider; per event, use <c>Event.Services</c>.</remarks>
    public MicroService Subscribe<TSubscriber, T>(string topic, string? queue = null) where TSubscriber : MicroSubscriber =>
        PluggedBroker is not null
            ? throw new InvalidOperationException($"The subscriber actor {typeof(TSubscriber).Name} needs the cluster's broker; with MicroServiceOptions.Broker set, " +
                "subscribe a function (Subscribe<T>(topic, handler, queue))")
            : AddSubscriber(new SubscriberSpec(topic, queue, typeof(T), null, ActorProps(typeof(TSubscriber))));

    private MicroService AddSubscriber(SubscriberSpec spec)
    {
        if (_system is not null) throw new InvalidOperationException("Declare subscribers before the service starts (or use Broker.SubscribeAsync)");
        _subscribers.Add(spec);
        return this;
    }

    /// <summary>Starts the node and begins joining the cluster (see <see cref="WhenUpAsync"/>).</summary>
    /// <exception cref="MicroConfigException">The node cannot listen where it is told to (the message names the address, port and setting).</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Claim();
        try
        {
            foreach (var hook in _options.BeforeStart) await hook().ConfigureAwait(false);
            ActorSystem system;
            try { system = ActorSystem.Create(Settings.ClusterName, PrepareSystem()); }
            catch (Exception e) when (StartFailure.Explain(e, Settings) is { } clear) { throw clear; }
            await AttachAsync(system, ownsSystem: true, joinSeeds: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Failed(e);
            throw;
        }
    }

    /// <summary>The start failed: whoever waits for the node (WhenUp, a call made before the start) hears why at once.</summary>
    internal void Failed(Exception cause)
    {
        if (_system is not null) return; // wired: its termination tells the waiters
        var error = MicroError.ServiceUnavailable("micro.node", $"this node ({Name ?? "client"}) could not start: {cause.Message}").ToException();
        _wired.TrySetException(error);
        _up.TrySetException(error);
        _ready.TrySetException(error);
    }

    /// <summary>Claims the one start of this node.</summary>
    internal void Claim()
    {
        lock (_gate)
        {
            if (_system is not null || _stopped is not null) throw new InvalidOperationException("The service was started already");
            _stopped = Task.CompletedTask;
        }
    }

    /// <summary>
    /// What the node's actor system is made of: the configuration (settings written into Akka's keys) and the
    /// serializer's allow-list, set up before the system exists so that no message is ever read without it.
    /// </summary>
    internal ActorSystemSetup PrepareSystem() => ActorSystemSetup.Create([BootstrapSetup.Create().WithConfig(NodeConfig()), .. NodeSetups()]);

    /// <summary>The node's Akka configuration: its settings in Akka's keys over the HOCON it was given and the defaults.</summary>
    internal Akka.Configuration.Config NodeConfig() => MicroConfig.ForNode(_config, Settings, Name);

    /// <summary>The setups beside the configuration: the serializer's allow-list and, with TLS, its certificates.</summary>
    internal IEnumerable<Setup> NodeSetups()
    {
        yield return new TypeAllowListSetup(AllowList());
        if (Settings.Tls is not { } tls) yield break;
        yield return Tls.Setup(tls); // DotNetty's
        yield return new TlsSetup(tls); // the socket transport's
    }

    /// <summary>The HOCON this node was given over the defaults (what settings, including the hosting layer's, are read from).</summary>
    internal Akka.Configuration.Config LoadedConfig => _config;

    internal TypeAllowList AllowList()
    {
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
        return allowList;
    }

    /// <summary>
    /// Wires Micro.Actors onto <paramref name="system"/> (made from <see cref="PrepareSystem"/>, by this node or
    /// by a host), declares the subscriptions and, with <paramref name="joinSeeds"/>, joins through the seed nodes.
    /// </summary>
    internal async Task AttachAsync(ActorSystem system, bool ownsSystem, bool joinSeeds, CancellationToken cancellationToken)
    {
        Cluster cluster;
        var log = Logging.GetLogger(system, typeof(MicroService));
        try
        {
            cluster = Cluster.Get(system);
            var micro = MicroExtension.Get(system);
            micro.Claim(Name ?? "client");
            // Our own mediator (same path on every node), whose queue-group routing avoids nodes that are down.
            var health = new NodeHealth();
            var mediator = micro.Start(DistributedPubSubMediator.Props(
                DistributedPubSubSettings.Create(system).WithRoutingLogic(new AvoidingRoutingLogic(health))), "micro-pubsub");
            cluster.RegisterOnMemberUp(() => _up.TrySetResult());

            var codecs = Codecs.Of(Settings.Codecs, system, _options.Codecs);
            var figures = _figures = new Observability.NodeFigures(Name ?? "client", $"{cluster.SelfAddress.Host}:{cluster.SelfAddress.Port}")
            {
                MemberCounts = () => cluster.State.Members.GroupBy(m => m.Status).Select(g => (g.Key.ToString().ToLowerInvariant(), g.Count())),
            };
            Observability.Metrics.Add(figures);
            var registry = _registryActor = micro.Start(Props.Create(() => new RegistryActor(Settings.DescriptorTimeout, _ready, mediator, health, Settings.Sideline)), RegistryActor.Name);
            if (Name is not null)
            {
                var groups = _groups.ToList();
                var self = cluster.SelfAddress;
                var identity = new ServerActor.NodeIdentity(Name, Settings.Version, $"{self.Host}:{self.Port}", DateTime.UtcNow);
                var streamCounters = _streams.ToDictionary(s => s.Name, s => figures.Endpoint(s.Name), StringComparer.Ordinal);
                var services = _services;
                var server = _server = micro.Start(Props.Create(() => new ServerActor(identity, groups, Settings.PoolSize, Settings.QueueSize, _state, codecs,
                    Settings.MaxPayloadBytes, Settings.AnswerBatchWait, figures, services, _options.Wrappers, null, Settings.ErrorDetails)), ServerActor.Name);
                var descriptor = new NodeDescriptor(Name, Settings.Version, _options.Metadata.ToImmutableDictionary(),
                    [.. groups.SelectMany(g => g.Endpoints).Select(Describe), .. _streams.Select(Describe)], server);
                _streamServer = micro.Start(Props.Create(() => new Streaming.StreamServerActor(_streams.ToList(), codecs, Settings.StreamBuffer, Settings.StreamIdleTimeout,
                    Settings.MaxPayloadBytes, streamCounters, _state, services, _options.Wrappers, identity.Node, Settings.ErrorDetails)), Streaming.StreamServerActor.Name);
                _descriptor = micro.Start(Props.Create(() => new DescriptorActor(descriptor, mediator)), DescriptorActor.Name);
            }
            // A registry of the user's own takes the cluster's place for routing; the cluster's still feeds the broker.
            var membership = new ClusterRegistry(registry, _ready.Task, Settings.RequestTimeout, NotJoinedReason);
            var plugged = _options.Registry?.Invoke(membership);
            var routes = plugged is null ? registry
                : micro.Start(Props.Create(() => new RegistryFeedActor(plugged, registry)), RegistryFeedActor.Name);
            // A broker of the user's own gets the cluster's without wrappers: they run once, around the plugged one.
            var pubsub = _pubsub = new PubSubBroker(system, mediator, registry, codecs, Settings.MaxPayloadBytes, OnSubscriptionChange, Settings.DrainTimeout, _services,
                PluggedBroker is null ? _options.Wrappers : null, Settings.ContentType) { Figures = _figures };
            _broker = PluggedBroker is { } plugBroker ? new WrappedBroker(plugBroker(pubsub), _options.Wrappers) : pubsub;
            // A broker of its own server connects (and makes what it needs there) before anything subscribes.
            if (_broker is WrappedBroker { Inner: INodeBroker own })
            {
                _ownBroker = own;
                await own.StartAsync(new BrokerNode(Name ?? "client", $"{cluster.SelfAddress.Host}:{cluster.SelfAddress.Port}", _config, Settings.ContentType,
                    Settings.MaxPayloadBytes, codecs, _services, AkkaLogger.For(_options.Services, system.Log, "Micro.Actors.Broker")), cancellationToken).ConfigureAwait(false);
            }

            _client = new MicroClient(system, routes, new ClientDefaults(
                Settings.RequestTimeout, Settings.Retries,
                _options.Selector ?? (Settings.Strategy == "round-robin" ? new RoundRobinSelector() : RandomSelector.Instance),
                Settings.Sideline, Settings.DeadlineCheckInterval, RetryPolicy.OnNodeFailure, NotJoinedReason) { HeardWithin = Settings.BatchWait, ContentType = Settings.ContentType }, _broker, codecs, Settings.MaxPayloadBytes, Settings.StreamIdleTimeout, Settings.StreamBuffer, _options.Wrappers);
            _registry = plugged ?? membership;
            AddShutdownTasks(system, cluster);
        }
        catch
        {
            // A node that could not be wired must not keep its port (nor its broker's connection).
            if (ownsSystem) await system.Terminate().ConfigureAwait(false);
            if (_ownBroker is { } own) await own.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _log = log;
        _address = $"{cluster.SelfAddress.Host}:{cluster.SelfAddress.Port}";
        lock (_gate) _system = system;
        _stopped = AfterStopAsync(system);
        if (_options.HandleSignals) ListenForSignals();
        _ = system.WhenTerminated.ContinueWith(_ => OnTerminated(system), TaskScheduler.Default);
        _wired.TrySetResult();
        // Subscribed before joining, so the descriptor other nodes fetch lists them from the start.
        foreach (var spec in _subscribers) _declared.Add(await DeclareAsync(spec, cancellationToken).ConfigureAwait(false));

        if (joinSeeds)
        {
            var seeds = Settings.SeedNodes.Count == 0
                ? [cluster.SelfAddress]
                : Settings.SeedNodes.Select(s => new Akka.Actor.Address(cluster.SelfAddress.Protocol, Settings.ClusterName, s.Host, s.Port)).ToList();
            cluster.JoinSeedNodes(seeds);
        }
        log.Info("{Service} {Version} started at {Address}; joining {Seeds}", Name ?? "client", Settings.Version, Address,
            !joinSeeds ? "through discovery" : Settings.SeedNodes.Count == 0 ? "itself (a new cluster)" : string.Join(", ", Settings.SeedNodes));
        _ = _up.Task.ContinueWith(_ => log.Info("{Service} at {Address} is Up in cluster {Cluster}", Name ?? "client", Address, Settings.ClusterName),
            TaskContinuationOptions.OnlyOnRanToCompletion);

        foreach (var hook in _options.AfterStart) await hook().ConfigureAwait(false);
    }

    /// <summary>The node's system ended: whoever still waits for it to come Up (or ready) hears why, instead of waiting forever.</summary>
    private void OnTerminated(ActorSystem system)
    {
        var why = CoordinatedShutdown.Get(system).ShutdownReason switch
        {
            CoordinatedShutdown.ClusterJoinUnsuccessfulReason => $"gave up joining the cluster: {NotJoinedReason()}",
            CoordinatedShutdown.ClusterDowningReason => "was downed by the cluster (the split brain resolver, or a manual down)",
            // Akka.Remote stops a node whose outbound TLS handshake failed (its internal TlsHandshakeFailureReason, exit code 79).
            { ExitCode: 79 } => "was stopped by Akka.Remote after a TLS handshake failed: do this node and its peers trust each other's certificates (MICRO_TLS_TRUSTED)?",
            _ => "stopped",
        };
        var error = MicroError.ServiceUnavailable("micro.node", $"this node ({Name ?? "client"} at {Address}) {why} before it was Up and ready").ToException();
        _up.TrySetException(error);
        _ready.TrySetException(error);
        lock (_signals)
        {
            foreach (var signal in _signals) signal.Dispose();
            _signals.Clear();
        }
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
    }

    /// <summary>
    /// SIGTERM and Ctrl+C stop the node gracefully, and so does the end of the program. The handler waits for
    /// the stop and leaves the signal as it came, so the process ends after it — unless <see cref="RunAsync"/>
    /// takes the signal to return normally. (Akka's own CLR hook is off: it takes SIGTERM and never ends the process.)
    /// </summary>
    private void ListenForSignals()
    {
        try
        {
            lock (_signals)
            {
                _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => StopForExit()));
                _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => StopForExit()));
            }
        }
        catch (PlatformNotSupportedException) { /* no signals here (a browser, a phone): the program's end still stops the node */ }
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    private void OnProcessExit(object? sender, EventArgs e) => StopForExit();

    private void StopForExit()
    {
        var limit = Settings.DrainTimeout + TimeSpan.FromSeconds(20);
        try
        {
            if (!StopAsync().Wait(limit))
                _log?.Warning("The node at {Address} did not stop within {Limit} of the signal; the process ends anyway", Address, limit);
        }
        catch (Exception e) { _log?.Error(e, "The node at {Address} did not stop cleanly: {Error}", Address, e.GetBaseException().Message); }
    }

    /// <summary>
    /// Graceful stop: leave the cluster (callers stop choosing this node), let in-flight requests, streams
    /// and events finish, end the actor system, then run AfterStop hooks.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_system is not { } system) return;
        await CoordinatedShutdown.Get(system).Run(NodeStopReason.Instance).WaitAsync(cancellationToken).ConfigureAwait(false);
        await (_stopped ?? Task.CompletedTask).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts, serves until Ctrl+C, SIGTERM, <paramref name="cancellationToken"/> or the system ending, then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Taken (Cancel): the process goes on, so that RunAsync returns and the program ends as it likes.
        void OnSignal(PosixSignalContext c) { c.Cancel = true; stop.TrySetResult(); }
        using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal))
        using (PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal))
        using (cancellationToken.Register(() => stop.TrySetResult()))
        {
            await Task.WhenAny(stop.Task, System.WhenTerminated).ConfigureAwait(false);
        }
        _log?.Info("{Service} at {Address} is stopping", Name ?? "client", Address);
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Waits (within <paramref name="timeout"/>) until the node's client, registry and broker exist.</summary>
    internal async Task WhenWiredAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try { await _wired.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false); } // a failed start throws its 503
        catch (TimeoutException)
        {
            throw MicroError.Timeout("micro.node", _stopped is null
                ? $"this node has not been started within {timeout.TotalSeconds:0.###} s: call StartAsync or RunAsync (a host starts it with the application)"
                : $"this node is still starting after {timeout.TotalSeconds:0.###} s").ToException();
        }
    }

    internal MicroClient? StartedClient => _client;
    internal IRegistry? StartedRegistry => _registry;
    internal IBroker? StartedBroker => _broker;

    /// <summary>The broker this node's events go through when it is not the cluster's: chosen in code, else by micro.broker.</summary>
    private Func<IBroker, IBroker>? PluggedBroker =>
        _options.Broker ?? (Settings.Broker == MicroSettings.PubSubBroker ? null : _options.Brokers[Settings.Broker]);

    /// <summary>A plugged broker that lives with the node (disposed after it stops).</summary>
    private INodeBroker? _ownBroker;

    /// <summary>A declared subscriber, through the node's broker: the cluster's takes every kind, a plugged one functions.</summary>
    private async Task<ISubscription> DeclareAsync(SubscriberSpec spec, CancellationToken cancellationToken)
    {
        if (_broker is PubSubBroker pubsub) return await pubsub.SubscribeAsync(spec, cancellationToken).ConfigureAwait(false);
        if (spec.Through is not { } through)
            throw new InvalidOperationException($"The subscriber actor {spec.Actor?.Type.Name} of topic '{spec.Topic}' needs the cluster's broker; " +
                "with MicroServiceOptions.Broker set, subscribe a function (Subscribe<T>(topic, handler, queue))");
        var subscription = await through(_broker!, cancellationToken).ConfigureAwait(false);
        OnSubscriptionChange(spec.Info, true);
        return subscription;
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
            _descriptor?.Tell(new DescriptorActor.SetSubscriptions(_subscriptions.ToList(), Announce: !IsStopping));
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
            // No new events (each subscriber finishes the one it is on); requests and streams under way finish.
            var events = _broker is PubSubBroker ? _pubsub!.UnsubscribeAllAsync()
                : Task.WhenAll([.. _declared.Select(d => d.UnsubscribeAsync()), _pubsub?.UnsubscribeAllAsync() ?? Task.CompletedTask]);
            await WaitUntil(() => (_state.InFlight == 0 || DateTime.UtcNow > _state.LatestDeadline) && _state.OpenStreams == 0, deadline).ConfigureAwait(false);
            if (_state.InFlight > 0 || _state.OpenStreams > 0)
                _log?.Warning("Stopping with {Requests} request(s) and {Streams} stream(s) still running after the drain timeout (micro.server.drain-timeout, {DrainTimeout})",
                    _state.InFlight, _state.OpenStreams, Settings.DrainTimeout);
            if (_state.OpenStreams > 0)
            {
                // Streams outlast any drain: they end with a 503 their callers read, not with the connection.
                _streamServer?.Tell(new Streaming.StreamServerActor.EndStreams(MicroError.ServiceUnavailable(Name ?? "micro.server",
                    $"node {Address} stopped while streaming (it left the cluster); open the stream again")));
                await WaitUntil(() => _state.OpenStreams == 0, DateTime.UtcNow + TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            await events.ConfigureAwait(false); // bounded by the drain timeout itself
            // Stragglers from callers that have not heard of the leave yet get 503 and retry elsewhere.
            _server?.Tell(ServerActor.StopAccepting.Instance);
            return Done.Instance;
        });
    }

    private async Task AfterStopAsync(ActorSystem system)
    {
        await system.WhenTerminated.ConfigureAwait(false);
        if (_ownBroker is { } broker)
        {
            try { await broker.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { system.Log.Warning("The broker did not close cleanly: {0}", e.Message); }
        }
        if (_figures is { } figures) Observability.Metrics.Remove(figures);
        foreach (var hook in _options.AfterStop) await hook().ConfigureAwait(false);
    }

    private static async Task WaitUntil(Func<bool> condition, DateTime deadlineUtc)
    {
        while (!condition() && DateTime.UtcNow < deadlineUtc)
            await Task.Delay(20).ConfigureAwait(false);
    }

    /// <summary>What a host says when discovery is to form the cluster (set by the hosting layer).</summary>
    internal string? JoinHint { get; set; }

    /// <summary>The services this node still waits to hear from (their descriptors); null while it has not joined.</summary>
    internal async Task<IReadOnlySet<string>?> AwaitedServicesAsync()
    {
        if (_registryActor is not { } registry) return null;
        try
        {
            var view = await registry.Ask<RegistryView>(RegistryActor.GetView.Instance, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return view.MembershipKnown ? view.PendingServices : null;
        }
        catch (AskTimeoutException) { return null; }
    }

    internal string NotJoinedReason() => JoinHint is { } hint ? $"this node has not joined the cluster: {hint}" : Settings.SeedNodes.Count == 0
        ? $"this node ({Address}) has not joined its own new cluster yet"
        : $"this node has not joined the cluster: no answer from seed node(s) {string.Join(", ", Settings.SeedNodes)}; " +
          $"are they running, and do they use the cluster name '{Settings.ClusterName}' and TLS {(Settings.Tls is null ? "off" : "on, trusting this node's certificate")} like this node?";

    private static (string Group, string Method) SplitEndpoint(string endpoint)
    {
        var name = EndpointName.Parse(endpoint, nameof(endpoint));
        return (name.Group, name.Method);
    }

    private static InvalidOperationException NotStarted() => new("The service has not been started: call StartAsync or RunAsync first");

    /// <summary>Why a node stops when told to: not a cluster's decision (Akka.Hosting maps those to a failing exit code).</summary>
    private sealed class NodeStopReason : CoordinatedShutdown.Reason
    {
        public static readonly NodeStopReason Instance = new();
        public override int ExitCode => 0;
    }
}
