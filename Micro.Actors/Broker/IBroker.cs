namespace Micro.Actors.Broker;

/// <summary>
/// go-micro's Broker, on Akka's DistributedPubSub. Delivery is at-most-once: an event reaches the
/// subscribers that the publishing node knows of when it publishes; an event in flight to a node
/// that dies is lost. See the README's pub/sub section.
/// </summary>
public interface IBroker
{
    /// <summary>
    /// Publishes <paramref name="message"/> on <paramref name="topic"/>. By default it returns once the
    /// event is handed to the local mediator; with <see cref="PublishOptions.WaitForSubscribers"/> it
    /// waits until a subscriber is known and fails with 404 if none is within that time.
    /// </summary>
    Task PublishAsync(string topic, object message, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Subscribes a function to <paramref name="topic"/>; completes once registered on this node
    /// (other nodes learn of it by gossip: see <see cref="WaitForSubscribersAsync"/>). A <c>byte[]</c> subscriber
    /// is raw: it gets every event of the topic, whatever its type, as it was encoded
    /// (<see cref="EventContext.ContentType"/> and the <c>Micro-Message-Type</c> header say how to read it).
    /// </summary>
#pragma warning disable RS0027 // the overload with options differs in its third parameter's type, not in optional ones
    Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null,
        CancellationToken cancellationToken = default);
#pragma warning restore RS0027

    /// <summary>
    /// Subscribes with <paramref name="options"/>: a queue group and where to start. A broker that keeps no
    /// events (DistributedPubSub) starts only from <see cref="StartPosition.New"/> and refuses the others with 400.
    /// </summary>
    Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, SubscribeOptions options,
        CancellationToken cancellationToken) =>
        options.From.Kind == StartKind.New
            ? SubscribeAsync(topic, handler, options.Queue, cancellationToken)
            : throw Errors.MicroError.BadRequest("micro.broker", $"this broker keeps no events, so a subscription of '{topic}' can only start with new ones; " +
                "starting from the retained events or a time needs a durable broker (micro.broker = nats)").ToException();

    /// <summary>Waits until this node knows of a subscriber of <paramref name="topic"/> anywhere in the cluster.</summary>
    Task WaitForSubscribersAsync(string topic, TimeSpan timeout, CancellationToken cancellationToken = default);
}

/// <summary>Per-publish options.</summary>
public sealed record PublishOptions
{
    /// <summary>Metadata that travels with the event.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>
    /// True (the default, go-micro's rule): each queue group gets the event once, at one of its
    /// members; subscribers without a queue each get it. False: every subscriber gets it, queue or not.
    /// </summary>
    public bool OnePerQueue { get; init; } = true;

    /// <summary>
    /// Hold the event until a subscriber is known (at most this long), then deliver it; if none
    /// appears, the publish fails with 404. Null: hand it over and return (no subscriber: dropped).
    /// </summary>
    public TimeSpan? WaitForSubscribers { get; init; }

    /// <summary>Null: Hyperion (the message's own type travels with it). Another content type
    /// (application/json): the message is encoded with that codec (or sent as is when it is bytes).
    /// Subscribers decode it either way.</summary>
    public string? ContentType { get; init; }

    /// <summary>For encoded events: the message type's name, so that only subscribers of that type take it.</summary>
    public string? MessageType { get; init; }

    /// <summary>Whether the metadata of the request being served here goes along with the event (default true; <see cref="Headers"/> win).</summary>
    public bool PropagateMetadata { get; init; } = true;

    /// <summary>
    /// The event's id; null: a new one. A durable broker (NATS) stores a publish retried with the same id within its
    /// duplicate window once.
    /// </summary>
    public string? Id { get; init; }

    /// <summary>
    /// For a durable broker: true returns once the event is sent, without waiting for the broker to store it;
    /// null: the broker's setting (micro.nats.publish). DistributedPubSub never waits for a store.
    /// </summary>
    public bool? FireAndForget { get; init; }

    public static readonly PublishOptions Default = new();
}

/// <summary>How a subscription takes its events.</summary>
public sealed record SubscribeOptions
{
    /// <summary>The queue group: each event goes to one of its members. Null: this subscriber gets every event.</summary>
    public string? Queue { get; init; }

    /// <summary>
    /// Where a new subscription starts (a durable broker): new events only (the default), every retained one, or those
    /// since a time. A queue group that already has a position goes on from it.
    /// </summary>
    public StartPosition From { get; init; } = StartPosition.New;
}

/// <summary>What a <see cref="StartPosition"/> starts from.</summary>
public enum StartKind
{
    New,
    All,
    Time,
}

/// <summary>Where a subscription starts: <see cref="New"/>, <see cref="All"/> or <see cref="Since"/> a time.</summary>
public readonly record struct StartPosition(StartKind Kind, DateTime SinceUtc)
{
    /// <summary>Events published from now on.</summary>
    public static StartPosition New => new(StartKind.New, default);

    /// <summary>Every event the broker retains, then new ones.</summary>
    public static StartPosition All => new(StartKind.All, default);

    /// <summary>The retained events published at or after <paramref name="time"/>, then new ones.</summary>
    public static StartPosition Since(DateTime time) => new(StartKind.Time, time.ToUniversalTime());

    /// <summary>"new", "all", an ISO-8601 time, or an age before now ("10m", "2h", "1d").</summary>
    public static StartPosition Parse(string text)
    {
        var t = text.Trim();
        if (t.Equals("new", StringComparison.OrdinalIgnoreCase)) return New;
        if (t.Equals("all", StringComparison.OrdinalIgnoreCase)) return All;
        if (t.Length > 1 && double.TryParse(t[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            TimeSpan? age = char.ToLowerInvariant(t[^1]) switch { 's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => null };
            if (age is { } a) return Since(DateTime.UtcNow - a);
        }
        if (DateTime.TryParse(t, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
            return Since(at);
        throw new FormatException($"'{text}' is not a start: use new, all, a time (2026-12-01T10:00:00Z) or an age (10m, 2h, 1d)");
    }

    public override string ToString() => Kind switch { StartKind.New => "new", StartKind.All => "all", _ => SinceUtc.ToString("O", System.Globalization.CultureInfo.InvariantCulture) };
}

/// <summary>A live subscription.</summary>
public interface ISubscription : IAsyncDisposable
{
    string Topic { get; }
    string? Queue { get; }

    /// <summary>Events handed to the handler so far.</summary>
    long Received { get; }

    /// <summary>Events whose handler threw (logged with the event id; the subscription goes on).</summary>
    long Failed { get; }

    /// <summary>
    /// Stops receiving; events published afterwards are not delivered here. The event being handled
    /// may finish first, within <c>micro.server.drain-timeout</c>; after that the subscription stops anyway.
    /// </summary>
    Task UnsubscribeAsync();
}
