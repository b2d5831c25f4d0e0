using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Broker;

/// <summary>
/// A broker that lives with its node (a broker of its own server, such as NATS): started once the node is
/// wired and before its subscribers subscribe (a failed start fails the node's), given what the node knows,
/// and disposed after the node has stopped and its subscribers have drained.
/// </summary>
public interface INodeBroker : IBroker, IAsyncDisposable
{
    Task StartAsync(BrokerNode node, CancellationToken cancellationToken);
}

/// <summary>What a broker of its own learns of its node: settings, codecs, logging and the events' DI scopes.</summary>
public sealed class BrokerNode
{
    private readonly Codecs _codecs;
    private readonly Service.HandlerServices _services;

    internal BrokerNode(string serviceName, string address, Akka.Configuration.Config config, string contentType, int maxPayloadBytes,
        Codecs codecs, Service.HandlerServices services, ILogger log)
    {
        ServiceName = serviceName;
        Address = address;
        Config = config;
        ContentType = contentType;
        MaxPayloadBytes = maxPayloadBytes;
        _codecs = codecs;
        _services = services;
        Log = log;
    }

    /// <summary>The node's service ("client" for a client-only node).</summary>
    public string ServiceName { get; }

    /// <summary>The node's host:port in the cluster.</summary>
    public string Address { get; }

    /// <summary>The node's configuration (micro.conf, its HOCON, a host's <c>Micro</c> section): where a broker reads its settings.</summary>
    public Akka.Configuration.Config Config { get; }

    /// <summary>How the node's calls and publishes travel unless they name a content type (micro.client.content-type).</summary>
    public string ContentType { get; }

    /// <summary>The largest payload one of the node's messages carries (its frame size less the envelope).</summary>
    public int MaxPayloadBytes { get; }

    /// <summary>The node's logger for its broker (a host's, or Akka's log without one).</summary>
    public ILogger Log { get; }

    /// <summary>Whether the node has a codec for <paramref name="contentType"/>.</summary>
    public bool CanRead(string contentType) => _codecs.TryGet(contentType, out _);

    /// <summary>
    /// <paramref name="message"/> written as <paramref name="contentType"/> (bytes in a content type other than
    /// Hyperion go as they are). A message that cannot be written is a 400 that says why.
    /// </summary>
    public byte[] Encode(object message, string contentType)
    {
        if (!_codecs.TryGet(contentType, out var codec))
            throw MicroError.BadRequest("micro.broker", $"no codec for content type '{contentType}'; known: {string.Join(", ", _codecs.ContentTypes.Order())}").ToException();
        if (message is byte[] raw && !Codecs.IsNative(contentType)) return raw;
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(message.GetType());
        try { return codec.Encode(message); }
        catch (Exception ex) { throw MicroError.BadRequest("micro.broker", $"the event cannot be written as {contentType}: {ex.Message}").ToException(); }
    }

    /// <summary><paramref name="data"/> read as <paramref name="type"/> (a <c>byte[]</c> subscriber gets the bytes); throws when it does not read.</summary>
    public object Decode(byte[] data, string contentType, Type type)
    {
        if (type == typeof(byte[])) return data;
        if (!_codecs.TryGet(contentType, out var codec))
            throw new FormatException($"the event is {contentType}, which this node cannot read (micro.codecs)");
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(type);
        return codec.Decode(data, type) ?? throw new FormatException($"the event reads as null, not a {type.Name}");
    }

    /// <summary>The context a subscriber's handler gets, with the event's own DI scope (<see cref="EventContext.Services"/>).</summary>
    public EventContext Event(string topic, string id, string contentType, IReadOnlyDictionary<string, string> headers, DateTime publishedUtc, string? queue) =>
        EventContext.Of(new Broker.Event(topic, id, contentType, headers, publishedUtc, []), queue, _services);

    /// <summary>The event's id, service and topic as the logging scope of what its handler logs; null without a host's logging.</summary>
    public IDisposable? BeginLogScope(EventContext context) => context.BeginLogScope();

    /// <summary>The handler is done with the event: its DI scope goes.</summary>
    public static void End(EventContext context) => context.End();
}

/// <summary>Akka's log as an <see cref="ILogger"/>, for a node without a host's logging.</summary>
internal sealed class AkkaLogger(ILoggingAdapter log) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel switch
    {
        LogLevel.Trace or LogLevel.Debug => log.IsDebugEnabled,
        LogLevel.Information => log.IsInfoEnabled,
        LogLevel.Warning => log.IsWarningEnabled,
        LogLevel.None => false,
        _ => log.IsErrorEnabled,
    };

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var text = formatter(state, exception);
        switch (logLevel)
        {
            case LogLevel.Trace or LogLevel.Debug: log.Debug("{0}", text); break;
            case LogLevel.Information: log.Info("{0}", text); break;
            case LogLevel.Warning: log.Warning("{0}", text); break;
            default: log.Error(exception, "{0}", text); break;
        }
    }

    internal static ILogger For(IServiceProvider? services, ILoggingAdapter fallback, string category) =>
        services?.GetService<ILoggerFactory>()?.CreateLogger(category) ?? new AkkaLogger(fallback);
}
