namespace Micro.Actors.Broker;

/// <summary>An event on the wire: the message (encoded in <see cref="ContentType"/>) and what go-micro keeps beside it.</summary>
internal sealed record Event(
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
internal sealed record EventBatch(IReadOnlyList<Event> Events);

/// <summary>What a subscriber can know about the event it is handling.</summary>
public sealed record EventContext(string Topic, string Id, string ContentType,
    IReadOnlyDictionary<string, string> Headers, DateTime PublishedUtc, string? Queue)
{
    private readonly IReadOnlyDictionary<string, string> _headers = Headers;
    private IReadOnlyDictionary<string, string>? _wrapped;

    /// <summary>The publisher's metadata (as subscriber wrappers left it).</summary>
    public IReadOnlyDictionary<string, string> Headers
    {
        get => _wrapped ?? _headers;
        init => _headers = value;
    }

    /// <summary>Subscriber wrappers' headers: what the subscriber then reads.</summary>
    internal void UseHeaders(IReadOnlyDictionary<string, string> headers) => _wrapped = headers;

    private Service.HandlerServices _services = Service.HandlerServices.None;
    private Service.LazyScope _scope;

    internal static EventContext Of(Event e, string? queue, Service.HandlerServices? services = null) =>
        new(e.Topic, e.Id, e.ContentType, e.Headers, e.PublishedUtc, queue) { _services = services ?? Service.HandlerServices.None };

    /// <summary>
    /// This event's own dependency-injection scope: a scoped service is new for each event and disposed
    /// once its handler is done. Made on first use; needs a node with a service provider (Micro.Actors.Hosting).
    /// </summary>
    public IServiceProvider Services => _scope.Get(_services, this);

    /// <summary>The event's id, service and topic as the logging scope of what a subscriber logs.</summary>
    internal IDisposable? BeginLogScope() => !_services.Logs ? null : _services.BeginScope("event", Id, _services.ServiceName, Topic, () => Headers);

    /// <summary>The handler is done with the event: its scope goes.</summary>
    internal void End() => _scope.End(_services, this);
}

/// <summary>A topic a node consumes, as its descriptor lists it.</summary>
public sealed record SubscriptionInfo(string Topic, string? Queue, string MessageType);
