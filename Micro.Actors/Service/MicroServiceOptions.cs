using Micro.Actors.Selector;

using Micro.Actors.Observability;

namespace Micro.Actors.Service;

/// <summary>
/// go-micro's service options. Anything left null (or empty) comes from the environment
/// (MICRO_HOST, MICRO_PORT, MICRO_SEED_NODES) or else from config/micro.conf.
/// </summary>
public sealed class MicroServiceOptions
{
    /// <summary>The service version (the member's app-version); default "latest".</summary>
    public string? Version { get; set; }

    /// <summary>Labels other nodes can see and filter on.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>All services of one cluster share it; default "micro".</summary>
    public string? ClusterName { get; set; }

    /// <summary>The address this node listens on; default 127.0.0.1.</summary>
    public string? Host { get; set; }

    /// <summary>The port this node listens on; default 4053; 0 takes any free port.</summary>
    public int? Port { get; set; }

    /// <summary>"host:port" of nodes to join through; none: this node starts a new cluster.</summary>
    public List<string> SeedNodes { get; } = [];

    /// <summary>The default deadline of calls made from this node; default 5 s.</summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>Default retries of calls made from this node; default 1.</summary>
    public int? Retries { get; set; }

    /// <summary>Default handler actors per endpoint group; default 16.</summary>
    public int? PoolSize { get; set; }

    /// <summary>
    /// A registry of your own (go-micro's <c>micro.Registry</c>): given the cluster's, return the one this node
    /// reads — its own (a static list, a service catalogue) or one that narrows or adds to the cluster's. The
    /// node's routers and streams choose nodes from it, and <c>MicroService.Registry</c> is it. Null: the cluster's.
    /// </summary>
    public Func<Registry.IRegistry, Registry.IRegistry>? Registry { get; set; }

    /// <summary>
    /// A broker of your own (go-micro's <c>micro.Broker</c>): given the cluster's (DistributedPubSub), return the one
    /// this node publishes and subscribes through — its own, or one around the cluster's. The node's wrappers and
    /// metadata run around it. Subscribers declared with <c>Subscribe</c> go through it (functions; an actor
    /// subscriber needs the cluster's broker). Null: the cluster's.
    /// </summary>
    public Func<Broker.IBroker, Broker.IBroker>? Broker { get; set; }

    /// <summary>
    /// Brokers to choose by configuration (micro.broker, <c>Micro:Broker</c>), by name, beside "pubsub" (the
    /// cluster's): Micro.Actors.Nats' <c>UseNats()</c> adds "nats". <see cref="Broker"/>, when set, wins.
    /// </summary>
    public IDictionary<string, Func<Broker.IBroker, Broker.IBroker>> Brokers { get; } = new Dictionary<string, Func<Broker.IBroker, Broker.IBroker>>(StringComparer.Ordinal);

    /// <summary>Default selection strategy of calls made from this node (micro.client.strategy).</summary>
    public ISelector? Selector { get; set; }

    /// <summary>
    /// go-micro's wrappers: middleware around calls, attempts, handlers, subscribers and publishes of this
    /// node, the first added outermost. A host adds those registered in DI after these. The node's own
    /// instrumentation (traces and metrics, <see cref="Observability.Telemetry"/>) comes first, around them all.
    /// </summary>
    public Wrappers.WrapperOptions Wrappers { get; } = new Wrappers.WrapperOptions().AddObservers();

    /// <summary>More codecs, beside Hyperion (the default) and JSON.</summary>
    public List<Codec.ICodec> Codecs { get; } = [];

    /// <summary>
    /// Assemblies, namespaces or types (e.g. "MyCompany.Contracts") that this node may build from bytes,
    /// beside the ones it allows by itself: Akka's, Micro.Actors', plain .NET values and collections,
    /// its handler and subscriber message types and the types its calls send and expect
    /// (micro.serialization.allowed-types).
    /// </summary>
    public List<string> AllowedTypes { get; } = [];

    /// <summary>Mutual TLS between nodes (micro.tls, MICRO_TLS_*); null: as configured, off by default.</summary>
    public Config.TlsOptions? Tls { get; set; }

    /// <summary>Extra HOCON laid over config/micro.conf (any micro.* or akka.* setting).</summary>
    public string? Config { get; set; }

    /// <summary>
    /// The application's services (dependency injection): handler, subscriber and stream actors are made
    /// with constructor injection, and each request and event gets a scope (<c>RequestContext.Services</c>,
    /// <c>EventContext.Services</c>). Micro.Actors.Hosting sets it to the host's provider.
    /// </summary>
    public IServiceProvider? Services { get; set; }

    /// <summary>
    /// Whether the node stops gracefully on SIGTERM, Ctrl+C and the program's end (default true). A host that
    /// owns the process's lifetime (the Generic Host) turns it off and stops the node itself.
    /// </summary>
    public bool HandleSignals { get; set; } = true;

    /// <summary>Variables to read instead of the process environment (tests); null reads the process's.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; set; }

    /// <summary>The host's environment name (IHostEnvironment, set by Micro.Actors.Hosting); null: the variables say (DOTNET_ENVIRONMENT).</summary>
    internal string? HostEnvironment { get; set; }

    public List<Func<Task>> BeforeStart { get; } = [];
    public List<Func<Task>> AfterStart { get; } = [];
    /// <summary>Run when a stop begins, while the node still serves.</summary>
    public List<Func<Task>> BeforeStop { get; } = [];
    /// <summary>Run once the node has left the cluster and its actor system has ended.</summary>
    public List<Func<Task>> AfterStop { get; } = [];
}
