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
    Task<ISubscription> SubscribeAsync<T>(string topic, Func<T, EventContext, Task> handler, string? queue = null,
        CancellationToken cancellationToken = default);

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

    public static readonly PublishOptions Default = new();
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
