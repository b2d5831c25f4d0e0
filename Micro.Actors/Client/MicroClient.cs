using Micro.Actors.Batching;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Client;

/// <summary>
/// The default <see cref="IClient"/>: each call goes through the router actor of its target service
/// on this node (one router per service, made on first use).
/// </summary>
public sealed class MicroClient : IClient
{
    /// <summary>The content type of calls between .NET nodes by default (micro.client.content-type): the message object, carried by Hyperion.</summary>
    public const string DefaultContentType = HyperionCodec.MediaType;

    private static readonly IReadOnlyDictionary<string, string> NoHeaders = ImmutableDictionary<string, string>.Empty;

    private readonly ActorSystem _system;
    private readonly IActorRef _registry;
    private readonly ClientDefaults _defaults;
    private readonly ConcurrentDictionary<string, Lazy<BurstQueue<RouterActor.Call>>> _routers = new(StringComparer.Ordinal);
    private readonly Broker.IBroker _broker;
    private readonly Codecs _codecs;
    private readonly int _maxPayload;

    private readonly Streaming.StreamClient _streams;
    /// <summary>The client wrappers; null: calls go straight to their router.</summary>
    private readonly Wrappers.Pipeline<Wrappers.CallDelegate>? _pipeline;
    private readonly Wrappers.WrapperOptions? _wrappers;

    internal MicroClient(ActorSystem system, IActorRef registry, ClientDefaults defaults, Broker.IBroker broker, Codecs codecs, int maxPayload,
        TimeSpan streamIdleTimeout, int streamBuffer, Wrappers.WrapperOptions? wrappers = null)
    {
        _wrappers = wrappers;
        _pipeline = wrappers?.Client(static c => c.Send(c));
        _streams = new Streaming.StreamClient(system, registry, defaults, streamIdleTimeout, streamBuffer) { Attempts = wrappers?.Call(static c => c.Send(c)) };
        _codecs = codecs;
        _maxPayload = maxPayload;
        _system = system;
        _registry = registry;
        _defaults = defaults;
        _broker = broker;
    }

    public Task PublishAsync(string topic, object message, Broker.PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        _broker.PublishAsync(topic, message, options, cancellationToken);

    public async Task<TResponse> CallAsync<TResponse>(string service, string endpoint, object request,
        CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var codec = Codec(options?.ContentType);
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(typeof(TResponse)); // the type this caller expects back
        var reply = await SendAsync(service, endpoint, request, codec, options, oneWay: false, cancellationToken, typeof(TResponse)).ConfigureAwait(false);
        return Read<TResponse>(reply, codec, service, endpoint);
    }

    /// <summary>A reply's bytes as the caller's type.</summary>
    private static TResponse Read<TResponse>(byte[]? reply, ICodec codec, string service, string endpoint)
    {
        object? body = reply;
        // Native replies are read as whatever they are (a handler that returns nothing sends Done); other
        // codecs need the type, or hand over raw bytes to a caller that asks for byte[] (e.g. a gateway).
        var native = Codecs.IsNative(codec.ContentType);
        if (reply is not null && (native || typeof(TResponse) != typeof(byte[])))
        {
            try { body = codec.Decode(reply, native ? typeof(object) : typeof(TResponse)); }
            catch (CodecException e)
            {
                // The call was answered; what the caller asked for does not fit the answer: the caller's mistake, not the server's 500.
                throw MicroError.BadRequest("micro.client", $"{service} {endpoint} replied with {codec.ContentType} that does not fit the {typeof(TResponse).Name} " +
                    $"the caller asked for ({e.Message}): ask for the endpoint's reply type (micro service {service} shows it)").ToException();
            }
        }
        if (body is Akka.Done && typeof(TResponse) != typeof(Akka.Done)) body = null; // a handler that returned nothing
        return body switch
        {
            TResponse typed => typed,
            null when default(TResponse) is null => default!,
            _ => throw MicroError.BadRequest("micro.client",
                $"{service} {endpoint} replied with {body?.GetType().Name ?? "nothing"}, not the {typeof(TResponse).Name} the caller asked for: " +
                $"ask for a {body?.GetType().Name ?? "nullable type"} (or object)").ToException(),
        };
    }

    public async IAsyncEnumerable<TResponse> StreamAsync<TResponse>(string service, string endpoint, object request,
        CallOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request is not byte[] && request.GetType().GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>)))
            throw MicroError.BadRequest("micro.client", "a stream of requests goes to StreamAsync<TRequest, TResponse> (or ClientStreamAsync), not as one request").ToException();
        var (codec, o) = Prepare<TResponse>(service, endpoint, options);
        var body = Encode(request, codec, o);
        await foreach (var item in OpenAndReadAsync(service, endpoint, Streaming.StreamKind.Server, codec, body, null, o, cancellationToken).ConfigureAwait(false))
            yield return Read<TResponse>(item, codec, service, endpoint);
    }

    public async IAsyncEnumerable<TResponse> StreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
        CallOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var (codec, o) = Prepare<TResponse>(service, endpoint, options);
        await foreach (var item in OpenAndReadAsync(service, endpoint, Streaming.StreamKind.Bidirectional, codec, null, EncodeAll(requests, codec, o), o, cancellationToken).ConfigureAwait(false))
            yield return Read<TResponse>(item, codec, service, endpoint);
    }

    public async Task<TResponse> ClientStreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
        CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var (codec, o) = Prepare<TResponse>(service, endpoint, options);
        byte[]? reply = null;
        await foreach (var item in OpenAndReadAsync(service, endpoint, Streaming.StreamKind.Client, codec, null, EncodeAll(requests, codec, o), o, cancellationToken).ConfigureAwait(false))
            reply = item;
        return reply is null
            ? throw MicroError.InternalServerError("micro.client", $"{service} {endpoint} ended its stream without a reply").ToException()
            : Read<TResponse>(reply, codec, service, endpoint);
    }

    /// <summary>The codec and options of a stream, its names checked and its reply type allowed.</summary>
    private (ICodec Codec, CallOptions Options) Prepare<TResponse>(string service, string endpoint, CallOptions? options)
    {
        options ??= CallOptions.Default;
        var codec = Codec(options.ContentType);
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(typeof(TResponse)); // the type this caller expects back
        Check(service, endpoint);
        return (codec, options);
    }

    /// <summary>Opens a stream (sending <paramref name="requests"/>, if any, as the handler takes them) and reads its replies' bytes.</summary>
    private async IAsyncEnumerable<byte[]> OpenAndReadAsync(string service, string endpoint, Streaming.StreamKind kind, ICodec codec, byte[]? body,
        IAsyncEnumerable<byte[]>? requests, CallOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options = options with { Headers = Metadata.MetadataContext.Outgoing(options.Headers ?? NoHeaders, options.PropagateMetadata) };
        var pipeline = _pipeline?.Current;
        var count = new Streaming.StreamCount();
        var ((opened, node, cancel), ended) = pipeline is null
            ? (await _streams.OpenAsync(service, endpoint, kind, body, codec.ContentType, options, cancellationToken).ConfigureAwait(false), null)
            : await OpenWrappedAsync(pipeline, service, endpoint, kind, body, codec, options, count, cancellationToken).ConfigureAwait(false);
        var sending = requests is null ? null : _streams.Send(opened, requests, count);
        var what = $"{service} {endpoint} at {node.HostPort}";
        await foreach (var item in _streams.ReadAsync(opened, what, sending, kind == Streaming.StreamKind.Client, cancel, count, ended, cancellationToken).ConfigureAwait(false))
            yield return item;
    }

    /// <summary>
    /// Opens a stream through the client wrappers: they run around its opening (all its attempts); one that lives
    /// as long as the stream (the instrumentation) leaves what to tell at its end.
    /// </summary>
    private async Task<((Streaming.StreamOpened, Registry.ServiceNode, Action) Opened, Action<MicroError?, bool>? Ended)> OpenWrappedAsync(
        Wrappers.CallDelegate pipeline, string service, string endpoint, Streaming.StreamKind kind, byte[]? body, ICodec codec, CallOptions options,
        Streaming.StreamCount count, CancellationToken cancellationToken)
    {
        (Streaming.StreamOpened, Registry.ServiceNode, Action)? opened = null;
        var call = new Wrappers.CallContext(service, endpoint, Guid.NewGuid().ToString("N"), Streaming.StreamClient.KindOf(kind),
            codec.ContentType, body, _defaults.Time.GetUtcNow().UtcDateTime + (options.Timeout ?? _defaults.RequestTimeout), options.Headers ?? NoHeaders)
        {
            Stream = count,
            Send = async c =>
            {
                opened = await _streams.OpenAsync(service, endpoint, kind, body, codec.ContentType, options with { Headers = c.OutgoingHeaders }, cancellationToken, c)
                    .ConfigureAwait(false);
                return null;
            },
        };
        // The node's own instrumentation never holds an open: the open's own deadline (its attempts' shares) decides.
        if (_pipeline!.OnlyObservers) await pipeline(call).ConfigureAwait(false);
        else await WithinDeadline(pipeline(call), call.Deadline, $"{service} {endpoint}").ConfigureAwait(false);
        if (opened is { } open) return (open, call.StreamEnded);
        var error = MicroError.InternalServerError("micro.client",
            $"a client wrapper ended the opening of the stream {service} {endpoint} without opening it (it returned without calling next)");
        call.StreamEnded?.Invoke(error, false);
        throw error.ToException();
    }

    private async IAsyncEnumerable<byte[]> EncodeAll<TRequest>(IAsyncEnumerable<TRequest> requests, ICodec codec, CallOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var request in requests.WithCancellation(cancellationToken).ConfigureAwait(false))
            yield return Encode(request ?? throw new ArgumentException("a stream of requests carries messages, not nulls", nameof(requests)), codec, options);
    }

    public Task TellAsync(string service, string endpoint, object message,
        CallOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync(service, endpoint, message, Codec(options?.ContentType), options, oneWay: true, cancellationToken);

    /// <param name="response">The reply's type the caller reads (null: none, one-way).</param>
    private Task<byte[]?> SendAsync(string service, string endpoint, object body, ICodec codec, CallOptions? options, bool oneWay,
        CancellationToken cancellationToken, Type? response = null)
    {
        Check(service, endpoint);
        options ??= CallOptions.Default;
        var timeout = options.Timeout ?? _defaults.RequestTimeout;
        if (timeout <= TimeSpan.Zero)
            throw MicroError.BadRequest("micro.client", $"timeout {timeout} must be longer than zero").ToException();
        var data = Encode(body, codec, options);
        var headers = Metadata.MetadataContext.Outgoing(options.Headers ?? NoHeaders, options.PropagateMetadata);
        var request = new Request(RequestIds.Next(), service, endpoint, data, codec.ContentType,
            headers, timeout, oneWay);
        var deadline = DateTime.UtcNow + timeout;
        // The types can be checked only where they travel as themselves (Hyperion); raw bytes are the caller's own encoding.
        var shape = codec is HyperionCodec && body is not byte[] ? ShapeOf(body.GetType(), response) : null;
        return _pipeline?.Current is { } pipeline
            ? SendWrapped(pipeline, request, body, options, deadline, shape, cancellationToken)
            : Post(request, options, deadline, null, shape, cancellationToken);
    }

    /// <summary>A call through the client wrappers (kept apart, so a call without them makes no closure).</summary>
    private Task<byte[]?> SendWrapped(Wrappers.CallDelegate pipeline, Request request, object body, CallOptions options, DateTime deadline,
        CallShape? shape, CancellationToken cancellationToken)
    {
        var call = new Wrappers.CallContext(request.Service, request.Endpoint, request.Id, request.OneWay ? Wrappers.CallKind.OneWay : Wrappers.CallKind.Unary,
            request.ContentType, body, deadline, request.Headers);
        call.Send = c => Post(request with { Headers = c.OutgoingHeaders }, options, deadline, c, shape, cancellationToken);
        return _pipeline!.OnlyObservers ? pipeline(call) : WithinDeadline(pipeline(call), deadline, $"{request.Service} {request.Endpoint}");
    }

    private static readonly ConcurrentDictionary<(Type, Type?), CallShape> Shapes = new();

    /// <summary>One shape per pair of types a caller uses (made once, not per call); a reply read as object or bytes is not checked.</summary>
    private static CallShape ShapeOf(Type request, Type? response) =>
        Shapes.GetOrAdd((request, response == typeof(object) || response == typeof(byte[]) ? null : response), static k => new CallShape(k.Item1, k.Item2));

    /// <summary>A client wrapper that never returns must not hold its caller past the deadline: the call ends with 408.</summary>
    private static async Task<T> WithinDeadline<T>(Task<T> wrapped, DateTime deadline, string what)
    {
        var left = deadline - DateTime.UtcNow;
        try { return await wrapped.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero).ConfigureAwait(false); }
        catch (TimeoutException)
        {
            throw MicroError.Timeout("micro.client", $"{what} did not answer by its deadline: a client wrapper held the call (it neither returned nor called next in time)").ToException();
        }
    }

    /// <summary>Hands a call to its service's router.</summary>
    private Task<byte[]?> Post(Request request, CallOptions options, DateTime deadline, Wrappers.CallContext? call, CallShape? shape,
        CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var queue = RouterFor(request.Service);
        queue.Post(new RouterActor.Call(request, options, deadline, completion) { Context = call, Shape = shape });
        var router = queue.Actor;
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => router.Tell(new RouterActor.Cancel(request.Id)));
            completion.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return completion.Task;
    }

    private void Check(string service, string endpoint)
    {
        if (string.IsNullOrWhiteSpace(service))
            throw MicroError.BadRequest("micro.client", "no service named: give the service to call, e.g. \"greeter\"").ToException();
        if (!EndpointName.IsValid(endpoint))
            throw MicroError.BadRequest("micro.client", EndpointName.Problem(endpoint)).ToException();
        if (_system.WhenTerminated.IsCompleted)
            throw MicroError.ServiceUnavailable("micro.client", "this node has stopped; calls need a running node").ToException();
    }

    /// <summary>
    /// A request's bytes, made here on the caller's thread: its size is known before it goes, and a
    /// type that cannot travel is the caller's 400 rather than a message the transport drops.
    /// </summary>
    private byte[] Encode(object body, ICodec codec, CallOptions options)
    {
        ArgumentNullException.ThrowIfNull(body);
        byte[] data;
        if (codec is HyperionCodec hyperion) hyperion.AllowList.Allow(body.GetType()); // this node's own code sends it
        try { data = body is byte[] raw && !Codecs.IsNative(codec.ContentType) ? raw : codec.Encode(body); }
        catch (Exception e) { throw MicroError.BadRequest("micro.client", $"the request cannot be written as {codec.ContentType}: {e.Message}").ToException(); }
        var size = data.Length + WireSize.Headers(options.Headers ?? NoHeaders);
        if (size > _maxPayload)
            throw MicroError.New("micro.client", 413, $"the request is {size} bytes with its headers; one message carries at most {_maxPayload} bytes " +
                $"(raise {Config.MicroSettings.FrameSizeSetting} on every node, or send less)").ToException();
        return data;
    }

    /// <summary>The codec of a content type (micro.client.content-type when none is named).</summary>
    private ICodec Codec(string? contentType)
    {
        return _codecs.TryGet(contentType ?? _defaults.ContentType, out var codec) ? codec
            : throw MicroError.BadRequest("micro.client", $"no codec for content type '{contentType}'; known: {string.Join(", ", _codecs.ContentTypes.Order())}").ToException();
    }

    private BurstQueue<RouterActor.Call> RouterFor(string service) =>
        _routers.GetOrAdd(service, s => new Lazy<BurstQueue<RouterActor.Call>>(() =>
        {
            var queue = new BurstQueue<RouterActor.Call>(RouterActor.Drain.Instance);
            queue.Actor = MicroExtension.Get(_system).Start(Props.Create(() => new RouterActor(s, _registry, _defaults, queue, _wrappers)), "micro-router-" + Uri.EscapeDataString(s));
            return queue;
        })).Value;
}
