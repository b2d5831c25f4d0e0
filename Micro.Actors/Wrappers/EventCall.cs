using Micro.Actors.Broker;

namespace Micro.Actors.Wrappers;

/// <summary>An event as subscriber wrappers see it, on its way to one subscriber.</summary>
public sealed class EventCall
{
    internal EventCall(EventContext context, object message)
    {
        Message = message;
        var headers = new Dictionary<string, string>(context.Headers, StringComparer.Ordinal);
        context.UseHeaders(headers); // the subscriber reads what the wrappers leave
        Headers = headers;
        Event = context;
    }

    /// <summary>The event's topic, id, queue group, publish time and services.</summary>
    public EventContext Event { get; }

    /// <summary>The innermost step: the subscriber itself.</summary>
    internal Func<EventCall, Task> Deliver { get; set; } = null!;

    /// <summary>The subscriber actor's handling of it, once given (null: a wrapper answered in its place).</summary>
    internal Task? Delivered { get; set; }
    public string Topic => Event.Topic;
    public string? Queue => Event.Queue;
    public string EventId => Event.Id;
    /// <summary>The publisher's metadata; what is here when the subscriber runs is what it sees.</summary>
    public IDictionary<string, string> Headers { get; }
    /// <summary>The decoded event; replace it to hand the subscriber another.</summary>
    public object Message { get; set; }

    private Dictionary<object, object?>? _items;
    public IDictionary<object, object?> Items => _items ??= [];
}

/// <summary>A publish as publish wrappers see it.</summary>
public sealed class PublishContext
{
    internal PublishContext(string topic, object message, PublishOptions options, IReadOnlyDictionary<string, string> headers)
    {
        Topic = topic;
        Message = message;
        Options = options;
        Headers = new Dictionary<string, string>(headers, StringComparer.Ordinal);
    }

    public string Topic { get; }
    /// <summary>The event as the publisher gave it; replace it to publish another.</summary>
    public object Message { get; set; }
    public PublishOptions Options { get; }

    /// <summary>The innermost step: the broker's publish.</summary>
    internal Func<PublishContext, Task> Send { get; set; } = null!;

    /// <summary>Runs <paramref name="pipeline"/> around a publish that <paramref name="send"/> makes with what the wrappers leave.</summary>
    internal static Task Run(PublishDelegate pipeline, string topic, object message, PublishOptions options, IReadOnlyDictionary<string, string> headers,
        Func<string, object, PublishOptions, IReadOnlyDictionary<string, string>, Task> send) =>
        pipeline(new PublishContext(topic, message, options, headers)
        {
            Send = p => send(p.Topic, p.Message ?? throw new ArgumentException("a publish wrapper left no message to publish"), p.Options, p.OutgoingHeaders),
        });

    /// <summary>The headers as they leave.</summary>
    internal IReadOnlyDictionary<string, string> OutgoingHeaders => (Dictionary<string, string>)Headers;
    /// <summary>The metadata that goes with the event.</summary>
    public IDictionary<string, string> Headers { get; }

    private Dictionary<object, object?>? _items;
    public IDictionary<object, object?> Items => _items ??= [];
}
