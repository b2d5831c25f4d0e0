namespace Micro.Actors.Broker;

/// <summary>An event on the wire: the message (encoded in <see cref="ContentType"/>) and what go-micro keeps beside it.</summary>
public sealed record Event(
    string Topic,
    string Id,
    string ContentType,
    IReadOnlyDictionary<string, string> Headers,
    DateTime PublishedUtc,
    byte[] Body);

/// <summary>
/// Events of one topic published together, carried as one remote message: the per-message cost of the
/// transport and the mediator is paid once per batch, not once per event.
/// </summary>
public sealed record EventBatch(IReadOnlyList<Event> Events);

/// <summary>What a subscriber can know about the event it is handling.</summary>
public sealed record EventContext(string Topic, string Id, string ContentType,
    IReadOnlyDictionary<string, string> Headers, DateTime PublishedUtc, string? Queue)
{
    internal static EventContext Of(Event e, string? queue) => new(e.Topic, e.Id, e.ContentType, e.Headers, e.PublishedUtc, queue);
}

/// <summary>A topic a node consumes, as its descriptor lists it.</summary>
public sealed record SubscriptionInfo(string Topic, string? Queue, string MessageType);
