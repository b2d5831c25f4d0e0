using System.Collections.Concurrent;
using System.Globalization;
using Micro.Actors.Broker;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Micro.Actors.Nats;

/// <summary>
/// The durable broker: events stored in NATS JetStream, one stream per topic. A publish completes once JetStream
/// has stored the event (or, fire-and-forget, once it is sent); a subscriber acks an event once its handler
/// succeeded, a failed one comes again after a backoff, and past max-attempts it goes to the topic's dead-letter
/// topic (<c>&lt;topic&gt;.dead-letter</c>) with the reason. A queue group is a durable consumer: each event to one
/// member, its position kept by the server across restarts. Settings: micro.nats (micro.conf).
/// </summary>
public sealed class NatsBroker : INodeBroker
{
    /// <summary>The header that tells how an event's body is written.</summary>
    public const string ContentTypeHeader = "Micro-Content-Type";
    /// <summary>The event's id (also JetStream's <c>Nats-Msg-Id</c>, which de-duplicates a retried publish).</summary>
    public const string IdHeader = "Micro-Event-Id";
    public const string PublishedHeader = "Micro-Published";
    /// <summary>On a dead letter: why it failed, where it came from, and how often it was tried.</summary>
    public const string DeadReasonHeader = "Micro-Dead-Letter-Reason";
    public const string DeadTopicHeader = "Micro-Dead-Letter-Topic";
    public const string DeadQueueHeader = "Micro-Dead-Letter-Queue";
    public const string DeadAttemptsHeader = "Micro-Dead-Letter-Attempts";

    /// <summary>Where a topic's failed events go: <c>&lt;topic&gt;.dead-letter</c>, a topic a subscriber (and <c>micro events --dead-letter</c>) reads.</summary>
    public static string DeadLetterTopic(string topic) => NatsNames.DeadLetterTopic(topic);

    private readonly Func<NatsOpts, NatsOpts>? _connection;
    private readonly ConcurrentDictionary<string, Lazy<Task>> _streams = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ISubscription, byte> _live = new();
    private Started? _started;

    /// <param name="connection">Changes to the NATS connection's options beyond micro.nats (e.g. a callback for credentials).</param>
    public NatsBroker(Func<NatsOpts, NatsOpts>? connection = null) => _connection = connection;

    internal sealed record Started(BrokerNode Node, NatsSettings Settings, NatsConnection Nats, NatsJSContext Js, NatsNames Names, Redelivery Redelivery);

    public async Task StartAsync(BrokerNode node, CancellationToken cancellationToken)
    {
        var settings = NatsSettings.Read(node.Config);
        var opts = Options(settings, node);
        opts = _connection?.Invoke(opts) ?? opts;
        var nats = new NatsConnection(opts);
        try
        {
            try { await nats.ConnectAsync().AsTask().WaitAsync(settings.ConnectTimeout + TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw MicroError.ServiceUnavailable("micro.broker", $"cannot reach the NATS server at {settings.Url} within {NatsSettings.Invariant(settings.ConnectTimeout)} s " +
                    $"(micro.nats.url, micro.nats.connect-timeout): is nats-server running there, with JetStream on (-js)? ({e.Message})").ToException();
            }
            var js = new NatsJSContext(nats);
            try { await js.GetAccountInfoAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (e is NatsJSApiException or NatsNoRespondersException or NatsJSException)
            {
                throw MicroError.ServiceUnavailable("micro.broker", $"the NATS server at {settings.Url} has no JetStream: start it with -js and a store (-sd DIR) ({e.Message})").ToException();
            }
            _started = new Started(node, settings, nats, js, new NatsNames(settings.SubjectPrefix), new Redelivery(settings.MaxAttempts, settings.BackoffAfter));
            node.Log.LogInformation("Events go through NATS JetStream at {Url} (streams {Prefix}_<topic>)", settings.Url, settings.SubjectPrefix.ToUpperInvariant());
        }
        catch
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static NatsOpts Options(NatsSettings s, BrokerNode node)
    {
        var auth = NatsAuthOpts.Default with
        {
            Username = s.User,
            Password = s.Password,
            Token = s.Token,
            CredsFile = s.CredentialsFile,
        };
        var tls = s.Tls || s.TlsCaFile is not null || s.TlsCertificateFile is not null
            ? NatsTlsOpts.Default with { Mode = TlsMode.Require, CaFile = s.TlsCaFile, CertFile = s.TlsCertificateFile, KeyFile = s.TlsKeyFile }
            : NatsTlsOpts.Default;
        return NatsOpts.Default with
        {
            Url = s.Url,
            Name = $"{node.ServiceName}@{node.Address}",
            ConnectTimeout = s.ConnectTimeout,
            RequestTimeout = s.PublishTimeout,
            AuthOpts = auth,
            TlsOpts = tls,
        };
    }

    internal Started Node => _started ?? throw MicroError.ServiceUnavailable("micro.broker", "the NATS broker has not started: it starts with its node (StartAsync)").ToException();

    public async Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var n = Node;
        options ??= PublishOptions.Default;
        var subject = n.Names.Subject(topic);
        var contentType = options.ContentType ?? n.Settings.ContentType;
        var data = n.Node.Encode(message, contentType);
        var id = options.Id ?? Guid.NewGuid().ToString("N");
        var headers = new NatsHeaders();
        foreach (var (key, value) in options.Headers ?? new Dictionary<string, string>()) headers[key] = value;
        headers[ContentTypeHeader] = contentType;
        headers[IdHeader] = id;
        headers[PublishedHeader] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        if ((options.MessageType ?? (message is byte[] ? null : message.GetType().Name)) is { } type) headers[PubSubBroker.MessageTypeHeader] = type;
        var size = data.Length + headers.Sum(h => h.Key.Length + h.Value.ToString().Length + 4);
        var max = n.Nats.ServerInfo?.MaxPayload ?? 1024 * 1024;
        if (size > max)
            throw MicroError.New("micro.broker", 413, $"the event is {size} bytes with its headers; the NATS server at {n.Settings.Url} takes at most {max} bytes " +
                "(its max_payload setting), so publish less or raise max_payload on the server").ToException();
        await EnsureStreamAsync(n, topic, cancellationToken).ConfigureAwait(false);
        if (options.WaitForSubscribers is { } wait) await WaitForConsumerAsync(n, topic, wait, id, cancellationToken).ConfigureAwait(false);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(n.Settings.PublishTimeout);
        try
        {
            if (options.FireAndForget ?? n.Settings.FireAndForget)
            {
                headers["Nats-Msg-Id"] = id;
                await n.Nats.PublishAsync(subject, data, headers, serializer: NatsRawSerializer<byte[]>.Default, cancellationToken: timeout.Token).ConfigureAwait(false);
                return;
            }
            var ack = await n.Js.PublishAsync(subject, data, NatsRawSerializer<byte[]>.Default, new NatsJSPubOpts { MsgId = id }, headers, timeout.Token).ConfigureAwait(false);
            if (!ack.IsSuccess() && !ack.Duplicate) ack.EnsureSuccess(); // a duplicate is an event stored before: success
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw MicroError.ServiceUnavailable("micro.broker", $"the NATS server at {n.Settings.Url} did not store event {id} of topic '{topic}' within " +
                $"{NatsSettings.Invariant(n.Settings.PublishTimeout)} s (micro.nats.publish-timeout): is it up? Publish it again with the same id (PublishOptions.Id) and it is stored once").ToException();
        }
        catch (Exception e) when (e is NatsException and not NatsJSApiException || e is NatsJSPublishNoResponseException)
        {
            throw MicroError.ServiceUnavailable("micro.broker", $"event {id} of topic '{topic}' was not stored: the NATS server at {n.Settings.Url} did not take it ({e.Message}); " +
                "publish it again with the same id (PublishOptions.Id) and it is stored once").ToException();
        }
        catch (NatsJSApiException e)
        {
            throw MicroError.ServiceUnavailable("micro.broker", $"event {id} of topic '{topic}' was not stored: JetStream answered {e.Error.Code} {e.Error.Description}").ToException();
        }
    }

    public async Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null, CancellationToken cancellationToken = default) =>
        await SubscribeAsync(topic, handler, new SubscribeOptions { Queue = queue }, cancellationToken).ConfigureAwait(false);

    public async Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, SubscribeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var n = Node;
        if (options.Queue is { } q && string.IsNullOrWhiteSpace(q)) throw new ArgumentException("A queue name cannot be blank", nameof(options));
        await EnsureStreamAsync(n, topic, cancellationToken).ConfigureAwait(false);
        await EnsureStreamAsync(n, NatsNames.DeadLetterTopic(topic), cancellationToken).ConfigureAwait(false);
        var subscription = new NatsSubscription<T>(this, n, topic, options, handler, s => _live.TryRemove(s, out _));
        await subscription.StartAsync(cancellationToken).ConfigureAwait(false);
        _live[subscription] = 0;
        return subscription;
    }

    public async Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var n = Node;
        await EnsureStreamAsync(n, topic, cancellationToken).ConfigureAwait(false);
        await WaitForConsumerAsync(n, topic, timeout, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until the topic's stream has a consumer (a subscriber anywhere, now or before with a durable queue group).</summary>
    private static async Task WaitForConsumerAsync(Started n, string topic, TimeSpan timeout, string? id, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var stream = await n.Js.GetStreamAsync(n.Names.Stream(topic), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (stream.Info.State.ConsumerCount > 0) return;
            if (DateTime.UtcNow >= deadline)
                throw (id is null
                    ? MicroError.Timeout("micro.broker", $"no subscriber of topic '{topic}' became known within {NatsSettings.Invariant(timeout)} s")
                    : MicroError.NotFound("micro.broker", $"no subscriber of topic '{topic}' became known within {NatsSettings.Invariant(timeout)} s; event {id} was not published")).ToException();
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The topic's stream, made if missing and checked against the settings once per topic. A failure is asked again
    /// next time; one of the server (down, no JetStream) is a 503, a stream that disagrees with the settings names the setting.
    /// </summary>
    internal async Task EnsureStreamAsync(Started n, string topic, CancellationToken cancellationToken)
    {
        var name = n.Names.Stream(topic);
        var ensured = _streams.GetOrAdd(name, _ => new Lazy<Task>(() => EnsureOnceAsync(n, topic, name)));
        try { await ensured.Value.WaitAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is not (MicroException or MicroConfigException) && !cancellationToken.IsCancellationRequested)
        {
            throw MicroError.ServiceUnavailable("micro.broker", $"the stream {name} of topic '{topic}' could not be made or checked on the NATS server at {n.Settings.Url} " +
                $"({(e is OperationCanceledException ? $"no answer within {NatsSettings.Invariant(n.Settings.PublishTimeout)} s, micro.nats.publish-timeout" : e.Message)}): is it up, with JetStream on?").ToException();
        }
    }

    private async Task EnsureOnceAsync(Started n, string topic, string name)
    {
        try
        {
            using var timeout = new CancellationTokenSource(n.Settings.PublishTimeout);
            await NatsStreams.EnsureAsync(n, topic, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            _streams.TryRemove(name, out _); // asked again next time
            throw;
        }
    }

    /// <summary>Every subscription stops (each finishing its event) and the connection closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_live.Keys.Select(s => s.UnsubscribeAsync())).ConfigureAwait(false);
        if (_started is { } n) await n.Nats.DisposeAsync().ConfigureAwait(false);
    }
}
