using Akka.Configuration;

namespace Micro.Actors.Config;

/// <summary>A host and port, as written in seed lists ("127.0.0.1:4053").</summary>
internal sealed record HostPort(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// The resolved settings of one node: HOCON defaults (config/micro.conf), overridden by the
/// environment (MICRO_HOST, MICRO_PORT, MICRO_SEED_NODES), overridden by options.
/// Every value is checked here, once, and a bad one names the setting it came from.
/// </summary>
internal sealed record MicroSettings
{
    public required string ClusterName { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }
    public required IReadOnlyList<HostPort> SeedNodes { get; init; }
    public required string Version { get; init; }
    public required TimeSpan RequestTimeout { get; init; }
    public required int Retries { get; init; }
    public required string Strategy { get; init; }
    /// <summary>How calls and publishes travel unless they name a content type (micro.client.content-type).</summary>
    public required string ContentType { get; init; }
    /// <summary>The content types this node speaks (micro.codecs).</summary>
    public required IReadOnlyList<string> Codecs { get; init; }
    public required TimeSpan Sideline { get; init; }
    public required TimeSpan DeadlineCheckInterval { get; init; }
    /// <summary>Under load, how long a call waits for the message ahead of it to its node, to leave with others (micro.client.batch-wait).</summary>
    public required TimeSpan BatchWait { get; init; }
    /// <summary>How long the answers to one batch of requests wait for each other (micro.server.answer-batch-wait).</summary>
    public required TimeSpan AnswerBatchWait { get; init; }
    public required int PoolSize { get; init; }
    public required int QueueSize { get; init; }
    public required TimeSpan DrainTimeout { get; init; }
    /// <summary>How long an unreachable member stays before it is downed (the Split Brain Resolver's stable-after).</summary>
    public required TimeSpan DownAfter { get; init; }
    public required TimeSpan DescriptorTimeout { get; init; }
    /// <summary>Items a stream's writer may run ahead of what the other side has asked for (micro.streaming.buffer).</summary>
    public required int StreamBuffer { get; init; }
    /// <summary>A stream with no item for this long ends with 408 (micro.streaming.idle-timeout).</summary>
    public required TimeSpan StreamIdleTimeout { get; init; }
    /// <summary>The largest encoded payload a call may carry: the transport's frame size less room for the envelope.</summary>
    public required int MaxPayloadBytes { get; init; }
    /// <summary>Assemblies, namespaces or types this node builds from bytes, beside the ones it allows by itself.</summary>
    public required IReadOnlyList<string> AllowedTypes { get; init; }
    /// <summary>How nodes talk (micro.transport): <see cref="SocketTransport"/> or <see cref="DotNettyTransport"/>.</summary>
    public required string Transport { get; init; }
    /// <summary>TLS between nodes; null when off.</summary>
    public TlsOptions? Tls { get; init; }
    /// <summary>Whether a handler's exception reaches its caller with its type and message (micro.server.error-details; auto: in Development).</summary>
    public bool ErrorDetails { get; init; }
    /// <summary>What carries events (micro.broker): <see cref="PubSubBroker"/> or <see cref="NatsBroker"/>.</summary>
    public string Broker { get; init; } = PubSubBroker;

    public const string PubSubBroker = "pubsub";
    public const string NatsBroker = "nats";

    public const string FrameSizeSetting = "akka.remote.dot-netty.tcp.maximum-frame-size";
    private const int EnvelopeAllowance = 4096;
    public const string SocketTransport = "socket";
    public const string DotNettyTransport = "dot-netty";

    /// <summary>
    /// Reads and checks the settings. <paramref name="environment"/> defaults to the process's;
    /// <paramref name="defaultPort"/>, when given, stands in for micro.port's default (a client-only node takes 0).
    /// </summary>
    public static MicroSettings Resolve(Akka.Configuration.Config config, Service.MicroServiceOptions options,
        IReadOnlyDictionary<string, string?>? environment = null, int? defaultPort = null)
    {
        string? Env(string name) => environment is null
            ? Environment.GetEnvironmentVariable(name)
            : environment.TryGetValue(name, out var v) ? v : null;

        var clusterName = options.ClusterName ?? Read(config, "micro.cluster-name", c => c.GetString("micro.cluster-name"));
        if (string.IsNullOrWhiteSpace(clusterName) || !clusterName.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
            throw new MicroConfigException(options.ClusterName is null ? "micro.cluster-name" : "option ClusterName",
                $"'{clusterName}' is not a valid cluster name: use letters, digits, '-' and '_'");

        var host = options.Host ?? NonEmpty(Env("MICRO_HOST")) ?? Read(config, "micro.host", c => c.GetString("micro.host"));
        if (string.IsNullOrWhiteSpace(host))
            throw new MicroConfigException(options.Host is not null ? "option Host" : Env("MICRO_HOST") is not null ? "MICRO_HOST" : "micro.host",
                "the host is empty: give the address this node listens on, e.g. 127.0.0.1");

        int port;
        if (options.Port is { } p) port = CheckPort(p, "option Port");
        else if (NonEmpty(Env("MICRO_PORT")) is { } envPort)
            port = int.TryParse(envPort, out var parsed) ? CheckPort(parsed, "MICRO_PORT")
                : throw new MicroConfigException("MICRO_PORT", $"'{envPort}' is not a port number (0-65535)");
        else port = defaultPort ?? CheckPort(Read(config, "micro.port", c => c.GetInt("micro.port")), "micro.port");

        IReadOnlyList<HostPort> seeds;
        if (options.SeedNodes.Count > 0) seeds = options.SeedNodes.Select(s => ParseHostPort(s, "option SeedNodes")).ToList();
        else if (NonEmpty(Env("MICRO_SEED_NODES")) is { } envSeeds)
            seeds = envSeeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => ParseHostPort(s, "MICRO_SEED_NODES")).ToList();
        else seeds = Read(config, "micro.seed-nodes", c => c.GetStringList("micro.seed-nodes"))
                .Select(s => ParseHostPort(s, "micro.seed-nodes")).ToList();

        var settings = new MicroSettings
        {
            ClusterName = clusterName,
            Host = host,
            Port = port,
            SeedNodes = seeds,
            Version = options.Version ?? Read(config, "micro.version", c => c.GetString("micro.version")),
            RequestTimeout = Positive(options.RequestTimeout, config, "micro.client.request-timeout", "option RequestTimeout"),
            Retries = options.Retries ?? Read(config, "micro.client.retries", c => c.GetInt("micro.client.retries")),
            Strategy = Read(config, "micro.client.strategy", c => c.GetString("micro.client.strategy")),
            ContentType = Read(config, "micro.client.content-type", c => c.GetString("micro.client.content-type")),
            Codecs = Read(config, "micro.codecs", c => c.GetStringList("micro.codecs")).ToList(),
            Sideline = Positive(null, config, "micro.client.sideline", ""),
            DeadlineCheckInterval = Positive(null, config, "micro.client.deadline-check-interval", ""),
            BatchWait = NotNegative(config, "micro.client.batch-wait"),
            AnswerBatchWait = NotNegative(config, "micro.server.answer-batch-wait"),
            PoolSize = options.PoolSize ?? Read(config, "micro.server.pool-size", c => c.GetInt("micro.server.pool-size")),
            QueueSize = Read(config, "micro.server.queue-size", c => c.GetInt("micro.server.queue-size")),
            DrainTimeout = Positive(null, config, "micro.server.drain-timeout", ""),
            ErrorDetails = Errors.HandlerFailure.DetailsOn(Read(config, Errors.HandlerFailure.Setting, c => c.GetString(Errors.HandlerFailure.Setting)),
                options.HostEnvironment, Env),
            DownAfter = Positive(null, config, "micro.down-after", ""),
            DescriptorTimeout = Positive(null, config, "micro.registry.descriptor-timeout", ""),
            StreamBuffer = Read(config, "micro.streaming.buffer", c => c.GetInt("micro.streaming.buffer")),
            StreamIdleTimeout = Positive(null, config, "micro.streaming.idle-timeout", ""),
            Transport = Read(config, "micro.transport", c => c.GetString("micro.transport")),
            Broker = Read(config, "micro.broker", c => c.GetString("micro.broker")),
            Tls = Config.Tls.Resolve(config, options.Tls, Env),
            AllowedTypes = [.. Read(config, Codec.SafeHyperionSerializer.AllowedTypesSetting, c => c.GetStringList(Codec.SafeHyperionSerializer.AllowedTypesSetting)), .. options.AllowedTypes],
            MaxPayloadBytes = (int)Math.Max(1024, Read(config, FrameSizeSetting, c => c.GetByteSize(FrameSizeSetting) ?? 128000) - EnvelopeAllowance),
        };
        if (settings.AllowedTypes.FirstOrDefault(string.IsNullOrWhiteSpace) is not null)
            throw new MicroConfigException(options.AllowedTypes.Any(string.IsNullOrWhiteSpace) ? "option AllowedTypes" : Codec.SafeHyperionSerializer.AllowedTypesSetting,
                "an entry is blank: name an assembly, a namespace or a type");
        if (settings.StreamBuffer < 1)
            throw new MicroConfigException("micro.streaming.buffer", $"a buffer of {settings.StreamBuffer}: use 1 or more");
        if (settings.Retries < 0)
            throw new MicroConfigException(options.Retries is null ? "micro.client.retries" : "option Retries", $"{settings.Retries} retries: use 0 or more");
        if (settings.PoolSize < 1)
            throw new MicroConfigException(options.PoolSize is null ? "micro.server.pool-size" : "option PoolSize", $"pool size {settings.PoolSize}: use 1 or more");
        if (settings.QueueSize < 0)
            throw new MicroConfigException("micro.server.queue-size", $"queue size {settings.QueueSize}: use 0 or more");
        if (settings.Transport is not (SocketTransport or DotNettyTransport))
            throw new MicroConfigException("micro.transport", $"'{settings.Transport}' is not a transport: use {SocketTransport} or {DotNettyTransport}");
        if (settings.Broker != PubSubBroker && options.Broker is null && !options.Brokers.ContainsKey(settings.Broker))
            throw new MicroConfigException("micro.broker", settings.Broker == NatsBroker
                ? "nats needs the Micro.Actors.Nats package and its UseNats() on the node's options (or the host's services)"
                : $"'{settings.Broker}' is not a broker: use {PubSubBroker}, {NatsBroker} (Micro.Actors.Nats) or one added to MicroServiceOptions.Brokers");
        if (settings.Strategy is not ("random" or "round-robin"))
            throw new MicroConfigException("micro.client.strategy", $"'{settings.Strategy}' is not a strategy: use random or round-robin");
        if (settings.Codecs.Count == 0)
            throw new MicroConfigException("micro.codecs", "no codec: name at least one content type, e.g. application/json");
        if (settings.Codecs.FirstOrDefault(c => !Codec.Codecs.BuiltIn.Contains(c)) is { } unknown && !options.Codecs.Any(c => c.ContentType == unknown))
            throw new MicroConfigException("micro.codecs", $"no codec for '{unknown}': use {string.Join(", ", Codec.Codecs.BuiltIn)}, or add yours to MicroServiceOptions.Codecs");
        if (!settings.Codecs.Contains(settings.ContentType, StringComparer.OrdinalIgnoreCase) && !options.Codecs.Any(c => c.ContentType == settings.ContentType))
            throw new MicroConfigException("micro.client.content-type", $"'{settings.ContentType}' is not among the codecs this node speaks (micro.codecs: {string.Join(", ", settings.Codecs)})");
        if (string.IsNullOrWhiteSpace(settings.Version))
            throw new MicroConfigException(options.Version is null ? "micro.version" : "option Version", "the version is empty");
        return settings;
    }

    /// <summary>Parses "host:port" (the form of --seed, MICRO_SEED_NODES and micro.seed-nodes).</summary>
    public static HostPort ParseHostPort(string text, string setting)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new MicroConfigException(setting, $"'{text}' is not host:port (e.g. 127.0.0.1:4053)");
        var host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new MicroConfigException(setting, $"'{text}' has no valid port (1-65535)");
        return new HostPort(host, port);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static int CheckPort(int port, string setting) => port is >= 0 and <= 65535
        ? port
        : throw new MicroConfigException(setting, $"{port} is not a port number (0-65535; 0 takes any free port)");

    private static TimeSpan Positive(TimeSpan? option, Akka.Configuration.Config config, string path, string optionName)
    {
        var value = option ?? Read(config, path, c => c.GetTimeSpan(path, null, allowInfinite: false));
        return value > TimeSpan.Zero
            ? value
            : throw new MicroConfigException(option is null ? path : optionName, $"{value} must be longer than zero");
    }

    private static TimeSpan NotNegative(Akka.Configuration.Config config, string path)
    {
        var value = Read(config, path, c => c.GetTimeSpan(path, null, allowInfinite: false));
        return value >= TimeSpan.Zero ? value : throw new MicroConfigException(path, $"{value} is negative: use 0 or more");
    }

    private static T Read<T>(Akka.Configuration.Config config, string path, Func<Akka.Configuration.Config, T> read)
    {
        if (!config.HasPath(path)) throw new MicroConfigException(path, "the setting is missing");
        try { return read(config); }
        catch (Exception e) when (e is not MicroConfigException)
        {
            throw new MicroConfigException(path, $"cannot read it: {e.Message}");
        }
    }
}

/// <summary>A setting with a bad value; the message names the setting and says what it takes.</summary>
public sealed class MicroConfigException(string setting, string problem)
    : Exception($"Bad setting {setting}: {problem}")
{
    /// <summary>The setting, as its source names it (micro.port, MICRO_PORT, option Port).</summary>
    public string Setting { get; } = setting;

    /// <summary>What is wrong with it and what it takes.</summary>
    public string Problem { get; } = problem;
}
