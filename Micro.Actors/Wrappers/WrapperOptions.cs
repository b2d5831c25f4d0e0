namespace Micro.Actors.Wrappers;

/// <summary>
/// A node's wrappers, in the order they run: the first added is the outermost (it runs first before
/// the call and last after it), like ASP.NET Core middleware. Handler and subscriber wrappers can be
/// limited to some handler groups or topics.
/// </summary>
public sealed class WrapperOptions
{
    private readonly List<IClientWrapper> _client = [];
    private readonly List<ICallWrapper> _call = [];
    private readonly List<(IHandlerWrapper Wrapper, string[] Groups)> _handler = [];
    private readonly List<(ISubscriberWrapper Wrapper, string[] Topics)> _subscriber = [];
    private readonly List<IPublishWrapper> _publish = [];

    /// <summary>Around every call from this node (all its attempts).</summary>
    public WrapperOptions AddClient(IClientWrapper wrapper) => Add(_client, wrapper);

    public WrapperOptions AddClient(Func<CallContext, CallDelegate, Task<byte[]?>> wrapper) => AddClient(new ClientLambda(wrapper));

    /// <summary>Around each attempt of every call from this node, on the node chosen for it.</summary>
    public WrapperOptions AddCall(ICallWrapper wrapper) => Add(_call, wrapper);

    public WrapperOptions AddCall(Func<CallContext, CallDelegate, Task<byte[]?>> wrapper) => AddCall(new CallLambda(wrapper));

    /// <summary>Around every request this node serves, or only those of <paramref name="groups"/> ("Greeter").</summary>
    public WrapperOptions AddHandler(IHandlerWrapper wrapper, params string[] groups)
    {
        ArgumentNullException.ThrowIfNull(wrapper);
        _handler.Add((wrapper, groups));
        return this;
    }

    public WrapperOptions AddHandler(Func<HandlerContext, HandlerDelegate, Task<object?>> wrapper, params string[] groups) =>
        AddHandler(new HandlerLambda(wrapper), groups);

    /// <summary>Around every event this node's subscribers get, or only those of <paramref name="topics"/>.</summary>
    public WrapperOptions AddSubscriber(ISubscriberWrapper wrapper, params string[] topics)
    {
        ArgumentNullException.ThrowIfNull(wrapper);
        _subscriber.Add((wrapper, topics));
        return this;
    }

    public WrapperOptions AddSubscriber(Func<EventCall, EventDelegate, Task> wrapper, params string[] topics) =>
        AddSubscriber(new SubscriberLambda(wrapper), topics);

    /// <summary>Around every publish from this node.</summary>
    public WrapperOptions AddPublish(IPublishWrapper wrapper) => Add(_publish, wrapper);

    public WrapperOptions AddPublish(Func<PublishContext, PublishDelegate, Task> wrapper) => AddPublish(new PublishLambda(wrapper));

    private WrapperOptions Add<T>(List<T> list, T wrapper) where T : class
    {
        ArgumentNullException.ThrowIfNull(wrapper);
        list.Add(wrapper);
        return this;
    }

    /// <summary>The client pipeline ending in <paramref name="call"/>; null without wrappers (the call goes straight).</summary>
    internal Pipeline<CallDelegate>? Client(CallDelegate call) => Compose(_client, call, (w, next) => c => w.InvokeAsync(c, next));

    /// <summary>The attempt pipeline ending in <paramref name="attempt"/>; null without wrappers.</summary>
    internal Pipeline<CallDelegate>? Call(CallDelegate attempt) => Compose(_call, attempt, (w, next) => c => w.InvokeAsync(c, next));

    /// <summary>The pipeline of the handlers of <paramref name="group"/>; null when no wrapper applies to it.</summary>
    internal Pipeline<HandlerDelegate>? Handler(string group) =>
        Compose(_handler.Where(h => h.Groups.Length == 0 || h.Groups.Contains(group, StringComparer.Ordinal)).Select(h => h.Wrapper).ToList(),
            (HandlerDelegate)(c => c.Handler(c)), (w, next) => c => w.InvokeAsync(c, next));

    internal Pipeline<EventDelegate>? Subscriber(string topic, EventDelegate subscriber) =>
        Compose(_subscriber.Where(s => s.Topics.Length == 0 || s.Topics.Contains(topic, StringComparer.Ordinal)).Select(s => s.Wrapper).ToList(),
            subscriber, (w, next) => e => w.InvokeAsync(e, next));

    internal Pipeline<PublishDelegate>? Publish(PublishDelegate publish) => Compose(_publish, publish, (w, next) => p => w.InvokeAsync(p, next));

    /// <summary>Wraps <paramref name="inner"/> from the last wrapper out, so the first one runs first; null with none.</summary>
    private static Pipeline<TDelegate>? Compose<TWrapper, TDelegate>(IReadOnlyList<TWrapper> wrappers, TDelegate inner, Func<TWrapper, TDelegate, TDelegate> wrap)
        where TDelegate : Delegate
    {
        if (wrappers.Count == 0) return null;
        var next = inner;
        for (var i = wrappers.Count - 1; i >= 0; i--) next = wrap(wrappers[i], next);
        var observers = wrappers.All(w => w is IObservingWrapper) ? wrappers.Cast<IObservingWrapper>().ToArray() : null;
        return new Pipeline<TDelegate>(next, observers);
    }

    /// <summary>These and then the given ones (a host's, from DI).</summary>
    internal WrapperOptions With(IEnumerable<IClientWrapper> client, IEnumerable<ICallWrapper> call, IEnumerable<IHandlerWrapper> handler,
        IEnumerable<ISubscriberWrapper> subscriber, IEnumerable<IPublishWrapper> publish)
    {
        foreach (var w in client) AddClient(w);
        foreach (var w in call) AddCall(w);
        foreach (var w in handler) AddHandler(w);
        foreach (var w in subscriber) AddSubscriber(w);
        foreach (var w in publish) AddPublish(w);
        return this;
    }

    private sealed class ClientLambda(Func<CallContext, CallDelegate, Task<byte[]?>> run) : IClientWrapper
    {
        public Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next) => run(call, next);
    }

    private sealed class CallLambda(Func<CallContext, CallDelegate, Task<byte[]?>> run) : ICallWrapper
    {
        public Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next) => run(call, next);
    }

    private sealed class HandlerLambda(Func<HandlerContext, HandlerDelegate, Task<object?>> run) : IHandlerWrapper
    {
        public Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next) => run(handler, next);
    }

    private sealed class SubscriberLambda(Func<EventCall, EventDelegate, Task> run) : ISubscriberWrapper
    {
        public Task InvokeAsync(EventCall delivery, EventDelegate next) => run(delivery, next);
    }

    private sealed class PublishLambda(Func<PublishContext, PublishDelegate, Task> run) : IPublishWrapper
    {
        public Task InvokeAsync(PublishContext publish, PublishDelegate next) => run(publish, next);
    }
}

/// <summary>
/// A wrapper that only watches (the node's traces and metrics): while nobody listens to it, a pipeline of
/// such wrappers is skipped, and calls, requests and events take the node's direct path.
/// </summary>
internal interface IObservingWrapper
{
    bool Observed { get; }
}

/// <summary>A composed pipeline, and whether it has anything to do right now.</summary>
internal sealed class Pipeline<T>(T run, IObservingWrapper[]? observers) where T : Delegate
{
    /// <summary>The pipeline to run now; null while every wrapper in it only watches and nobody listens.</summary>
    public T? Current
    {
        get
        {
            if (observers is null) return run;
            foreach (var o in observers) if (o.Observed) return run;
            return null;
        }
    }

    /// <summary>Whether every wrapper in it is the node's own instrumentation (which never holds a call past its deadline).</summary>
    public bool OnlyObservers => observers is not null;
}
