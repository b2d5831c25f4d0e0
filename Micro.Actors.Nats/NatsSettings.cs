using System.Globalization;
using Akka.Configuration;
using Micro.Actors.Config;

namespace Micro.Actors.Nats;

/// <summary>The broker's settings (micro.nats in micro.conf), read from the node's configuration and checked.</summary>
internal sealed record NatsSettings
{
    public required string Url { get; init; }
    public string? User { get; init; }
    public string? Password { get; init; }
    public string? Token { get; init; }
    public string? CredentialsFile { get; init; }
    public bool Tls { get; init; }
    public string? TlsCaFile { get; init; }
    public string? TlsCertificateFile { get; init; }
    public string? TlsKeyFile { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }
    public required string SubjectPrefix { get; init; }
    public required string ContentType { get; init; }
    public required bool FireAndForget { get; init; }
    public required TimeSpan PublishTimeout { get; init; }
    public required int MaxAttempts { get; init; }
    public required IReadOnlyList<TimeSpan> Backoff { get; init; }
    public required TimeSpan HandlerTimeout { get; init; }
    public required int Prefetch { get; init; }
    public required StreamSettings Stream { get; init; }

    public sealed record StreamSettings(TimeSpan MaxAge, long MaxMessages, long MaxBytes, int Replicas, TimeSpan DuplicateWindow, string Storage);

    public static NatsSettings Read(Akka.Configuration.Config config)
    {
        string? Text(string key) => config.GetString($"micro.nats.{key}") is { Length: > 0 } v ? v : null;
        var settings = new NatsSettings
        {
            Url = Text("url") ?? throw new MicroConfigException("micro.nats.url", "no server: give nats://host:port (several comma-separated)"),
            User = Text("user"),
            Password = Text("password"),
            Token = Text("token"),
            CredentialsFile = Text("credentials-file"),
            Tls = config.GetBoolean("micro.nats.tls.enabled"),
            TlsCaFile = Text("tls.ca-file"),
            TlsCertificateFile = Text("tls.certificate-file"),
            TlsKeyFile = Text("tls.key-file"),
            ConnectTimeout = Positive(config, "connect-timeout"),
            SubjectPrefix = Text("subject-prefix") ?? throw new MicroConfigException("micro.nats.subject-prefix", "it is empty: use a word like micro"),
            ContentType = Text("content-type") ?? throw new MicroConfigException("micro.nats.content-type", "it is empty: use application/json"),
            FireAndForget = Text("publish") switch
            {
                "acked" => false,
                "fire-and-forget" => true,
                var other => throw new MicroConfigException("micro.nats.publish", $"'{other}' is not a way to publish: use acked or fire-and-forget"),
            },
            PublishTimeout = Positive(config, "publish-timeout"),
            MaxAttempts = config.GetInt("micro.nats.max-attempts"),
            Backoff = config.GetStringList("micro.nats.backoff").Select(b => Duration("micro.nats.backoff", b)).ToList(),
            HandlerTimeout = Positive(config, "handler-timeout"),
            Prefetch = config.GetInt("micro.nats.prefetch"),
            Stream = new StreamSettings(
                Duration("micro.nats.stream.max-age", config.GetString("micro.nats.stream.max-age")),
                config.GetLong("micro.nats.stream.max-messages"),
                config.GetLong("micro.nats.stream.max-bytes"),
                config.GetInt("micro.nats.stream.replicas"),
                Duration("micro.nats.stream.duplicate-window", config.GetString("micro.nats.stream.duplicate-window")),
                config.GetString("micro.nats.stream.storage")),
        };
        if (settings.MaxAttempts < 1) throw new MicroConfigException("micro.nats.max-attempts", $"{settings.MaxAttempts}: use 1 or more");
        if (settings.Prefetch < 1) throw new MicroConfigException("micro.nats.prefetch", $"{settings.Prefetch}: use 1 or more");
        if (settings.Backoff.Count == 0) throw new MicroConfigException("micro.nats.backoff", "no wait: give one or more, e.g. [1s, 5s, 30s]");
        if (settings.Stream.Replicas is < 1 or > 5) throw new MicroConfigException("micro.nats.stream.replicas", $"{settings.Stream.Replicas}: use 1 to 5 (1, 3 or 5 in a NATS cluster)");
        if (settings.Stream.Storage is not ("file" or "memory")) throw new MicroConfigException("micro.nats.stream.storage", $"'{settings.Stream.Storage}': use file or memory");
        if (settings.SubjectPrefix.Any(c => c is '*' or '>' or ' ' or '.')) throw new MicroConfigException("micro.nats.subject-prefix", $"'{settings.SubjectPrefix}': use one word, without . * > or spaces");
        return settings;
    }

    /// <summary>The wait before redelivering an event whose <paramref name="attempt"/>th delivery failed (1-based; the last wait repeats).</summary>
    public TimeSpan BackoffAfter(int attempt) => Backoff[Math.Clamp(attempt - 1, 0, Backoff.Count - 1)];

    private static TimeSpan Positive(Akka.Configuration.Config config, string key)
    {
        var value = Duration($"micro.nats.{key}", config.GetString($"micro.nats.{key}"));
        return value > TimeSpan.Zero ? value : throw new MicroConfigException($"micro.nats.{key}", $"{value} must be longer than zero");
    }

    private static TimeSpan Duration(string setting, string text)
    {
        try { return ConfigurationFactory.ParseString($"v = {text}").GetTimeSpan("v", null, allowInfinite: false); }
        catch (Exception) { throw new MicroConfigException(setting, $"'{text}' is not a duration (e.g. 30s)"); }
    }

    internal static string Invariant(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
