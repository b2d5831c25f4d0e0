using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Util;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Server;

namespace Micro.Actors.Streaming;

/// <summary>
/// A node's streaming endpoints (<c>/system/micro-streams</c>). Each open runs its handler beside this
/// actor: replies leave through a bounded queue into a source ref (the handler waits when the caller
/// reads slowly), requests arrive through a sink ref. The handler's cancellation fires when the
/// caller cancels or is gone; its exception becomes the last item, a typed error.
/// </summary>
internal sealed class StreamServerActor : ReceiveActor
{
    public const string Name = "micro-streams";
    private const string ErrorId = "micro.server";

    private readonly IReadOnlyDictionary<string, StreamEndpoint> _endpoints;
    private readonly Codecs _codecs;
    private readonly int _buffer;
    private readonly TimeSpan _idle;
    private readonly int _maxPayload;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IMaterializer _materializer = Context.System.Materializer();
    private readonly StreamHost _host;
    private readonly Service.HandlerServices _services;
    private readonly ServerState _state;
    /// <summary>Streams served and failed per endpoint (Debug.Stats reads them).</summary>
    private readonly IReadOnlyDictionary<string, EndpointCounters> _counters;
    /// <summary>Per endpoint, its handler wrappers (null: none).</summary>
    private readonly IReadOnlyDictionary<string, Wrappers.Pipeline<Wrappers.HandlerDelegate>?> _pipelines;
    private readonly string _node;
    private readonly HandlerFailure _failures;
    /// <summary>Sent when a graceful stop's drain is over: the streams still open end with this error (callers open them again elsewhere).</summary>
    public sealed record EndStreams(MicroError Error);

    /// <summary>Why the open streams were ended, once a stop has ended them; new streams are refused from then on.</summary>
    private volatile MicroError? _endedBy;

    /// <summary>The streams this node serves, by id, to cancel on the caller's word.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource> _open = new(StringComparer.Ordinal);

    public StreamServerActor(IReadOnlyList<StreamEndpoint> endpoints, Codecs codecs, int buffer, TimeSpan idle, int maxPayload,
        IReadOnlyDictionary<string, EndpointCounters> counters, ServerState state, Service.HandlerServices? services = null,
        Wrappers.WrapperOptions? wrappers = null, string node = "", bool errorDetails = false)
    {
        _node = node;
        _failures = new HandlerFailure(_log, errorDetails);
        _pipelines = endpoints.ToDictionary(e => e.Name, e => wrappers?.Handler(EndpointName.GroupOf(e.Name)), StringComparer.Ordinal);
        _state = state;
        _services = services ?? Service.HandlerServices.None;
        _counters = counters;
        _endpoints = endpoints.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _codecs = codecs;
        _buffer = buffer;
        _idle = idle;
        _maxPayload = maxPayload;
        _host = new StreamHost(Context.System, _materializer, idle);
        Receive<EndStreams>(e =>
        {
            _endedBy = e.Error;
            foreach (var stream in _open.Values) stream.Cancel();
        });
        Receive<StreamCancel>(c =>
        {
            if (c.Id is not null && _open.TryRemove(c.Id, out var stream)) stream.Cancel();
        });
        Receive<StreamOpen>(open =>
        {
            var sender = Sender;
            if (Check(open, out var endpoint, out var codec, out var request) is { } refused)
            {
                sender.Tell(new StreamRefused(refused));
                return;
            }
            OpenAsync(open, endpoint!, codec!, request).PipeTo(sender,
                failure: e => new StreamRefused(MicroError.ServiceUnavailable(ErrorId, $"the stream could not be opened here: {e.Message}")));
        });
    }

    private MicroError? Check(StreamOpen open, out StreamEndpoint? endpoint, out ICodec? codec, out object? request)
    {
        (codec, request) = (null, null);
        if (_endedBy is { } ended)
        {
            endpoint = null;
            return ended;
        }
        if (open.Id is not { Length: 32 } id || !id.All(char.IsAsciiHexDigitLower) || _open.ContainsKey(id))
        {
            endpoint = null;
            return MicroError.BadRequest(ErrorId, "a stream needs an id of its own (32 lowercase hex digits)");
        }
        if (open.Endpoint is null || !_endpoints.TryGetValue(open.Endpoint, out endpoint))
        {
            endpoint = null;
            return MicroError.NotFound(ErrorId, $"{open.Service} has no streaming endpoint {open.Endpoint}; its streaming endpoints are: " +
                (_endpoints.Count == 0 ? "(none)" : string.Join(", ", _endpoints.Keys.Order(StringComparer.Ordinal))));
        }
        if (open.Headers is null || open.Service is null)
            return MicroError.BadRequest(ErrorId, "a malformed stream open: it names no service or carries no headers");
        if (open.ContentType is null || !_codecs.TryGet(open.ContentType, out codec))
            return MicroError.BadRequest(ErrorId, $"no codec for content type '{open.ContentType}'; known: {string.Join(", ", _codecs.ContentTypes.Order())}");
        if (endpoint.TakesStream) return null;
        if (open.Body is null) return MicroError.BadRequest(ErrorId, $"{open.Endpoint} streams replies to one request, and none came");
        try { request = codec.Decode(open.Body, Codecs.IsNative(codec.ContentType) ? typeof(object) : endpoint.RequestType); }
        catch (Exception e) { return MicroError.BadRequest(ErrorId, $"the request is not a {endpoint.RequestType.Name} in {codec.ContentType}: {e.Message}"); }
        return request is null || endpoint.RequestType.IsInstanceOfType(request)
            ? null
            : MicroError.BadRequest(ErrorId, $"{open.Endpoint} takes a {endpoint.RequestType.Name}, not a {request.GetType().Name}");
    }

    private async Task<object> OpenAsync(StreamOpen open, StreamEndpoint endpoint, ICodec codec, object? request)
    {
        var cancellation = new CancellationTokenSource();
        var count = new StreamCount();
        _open[open.Id] = cancellation;
        // The handler writes into a bounded channel (it waits when the caller is behind); the stream ref
        // takes from it. When the stream ends for any reason (the caller cancels or goes away, or all
        // was sent) the handler's cancellation fires.
        var replies = Channel.CreateBounded<Response>(new BoundedChannelOptions(_buffer) { SingleReader = true, SingleWriter = true });
        var repliesRef = ChannelSource.FromReader(replies.Reader)
            .WatchTermination((_, done) => done.ContinueWith(_ => cancellation.Cancel(), TaskScheduler.Default))
            .RunWith(StreamRefs.SourceRef<Response>(), _materializer);
        ISinkRef<Response>? requestsRef = null;
        IAsyncEnumerable<object>? requests = null;
        StreamOpened opened;
        try
        {
            if (endpoint.TakesStream)
            {
                var ((sinkRef, stop), reader) = StreamRefs.SinkRef<Response>()
                    .IdleTimeout(_idle)
                    .ViaMaterialized(KillSwitches.Single<Response>(), Keep.Both)
                    .ToMaterialized(ChannelSink.AsReader<Response>(_buffer, singleReader: true), Keep.Both)
                    .Run(_materializer);
                cancellation.Token.Register(stop.Shutdown); // the stream ended: the caller stops sending, even if the handler never read
                requestsRef = await sinkRef.ConfigureAwait(false);
                requests = ReadRequests(reader, stop, codec, endpoint, count, cancellation.Token);
            }
            opened = new StreamOpened(await repliesRef.ConfigureAwait(false), requestsRef);
        }
        catch (Exception)
        {
            _open.TryRemove(open.Id, out _);
            replies.Writer.TryComplete();
            cancellation.Cancel();
            throw;
        }
        var context = new RequestContext(new Request(open.Id, open.Service, open.Endpoint, open.Body ?? [], open.ContentType,
            open.Headers, Timeout.InfiniteTimeSpan, false), cancellation.Token, _failures, _services);
        _state.StreamOpened();
        _ = Task.Run(async () =>
        {
            try { await PumpAsync(endpoint, codec, request, requests, context, replies.Writer, count, cancellation.Token).ConfigureAwait(false); }
            finally
            {
                _open.TryRemove(open.Id, out _);
                context.Release(); // the stream's scope ends with it
                _state.StreamEnded();
            }
        });
        return opened;
    }

    /// <summary>Runs the handler and writes what it yields, waiting while the caller is behind.</summary>
    private async Task WriteAllAsync(StreamEndpoint endpoint, ICodec codec, object? request, IAsyncEnumerable<object>? requests,
        RequestContext context, ChannelWriter<Response> replies, StreamCount count, CancellationToken cancellation)
    {
        var counters = _counters[endpoint.Name];
        await foreach (var item in endpoint.Run(request, requests, context, _host).WithCancellation(cancellation).ConfigureAwait(false))
        {
                byte[] data;
                try { data = item is byte[] raw && !Codecs.IsNative(codec.ContentType) ? raw : codec.Encode(item); }
                catch (Exception e) { throw MicroError.InternalServerError(ErrorId, $"{endpoint.Name} yielded a {item.GetType().Name} that cannot be written as {codec.ContentType}: {e.Message}").ToException(); }
                if (data.Length > _maxPayload)
                    throw MicroError.InternalServerError(ErrorId, $"{endpoint.Name} yielded an item of {data.Length} bytes; one message carries at most {_maxPayload} " +
                        $"(raise {Config.MicroSettings.FrameSizeSetting} on every node, or send smaller items)").ToException();
                await replies.WriteAsync(new Response("", data, null), cancellation).ConfigureAwait(false);
                Interlocked.Increment(ref counters.Items);
                count.OneSent();
            }
    }

    /// <summary>Runs a stream to its end (through its handler wrappers) and tells the caller how it ended.</summary>
    private async Task PumpAsync(StreamEndpoint endpoint, ICodec codec, object? request, IAsyncEnumerable<object>? requests,
        RequestContext context, ChannelWriter<Response> replies, StreamCount count, CancellationToken cancellation)
    {
        var counters = _counters[endpoint.Name];
        using var scope = context.BeginLogScope();
        using var metadata = Metadata.MetadataContext.Enter(context.Headers);
        try
        {
            if (_pipelines[endpoint.Name]?.Current is not { } pipeline) await WriteAllAsync(endpoint, codec, request, requests, context, replies, count, cancellation).ConfigureAwait(false);
            else
            {
                var kind = endpoint.Kind switch
                {
                    StreamKind.Server => Wrappers.CallKind.ServerStream,
                    StreamKind.Client => Wrappers.CallKind.ClientStream,
                    _ => Wrappers.CallKind.Bidirectional,
                };
                await pipeline(new Wrappers.HandlerContext(context, request, kind, _node)
                {
                    Stream = count,
                    Handler = async c =>
                    {
                        await WriteAllAsync(endpoint, codec, c.Message, requests, context, replies, count, cancellation).ConfigureAwait(false);
                        return null;
                    },
                }).ConfigureAwait(false);
            }
            // Counted before the end reaches the caller, so a caller that reads Debug.Stats next sees it.
            Interlocked.Increment(ref counters.Served);
            replies.TryComplete();
        }
        catch (Exception) when (cancellation.IsCancellationRequested && _endedBy is { } ended)
        {
            // The node stopped with the stream still open: the caller hears it (and may open it again elsewhere).
            Interlocked.Increment(ref counters.Failed);
            using var briefly = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try { await replies.WriteAsync(new Response("", null, ended), briefly.Token).ConfigureAwait(false); }
            catch (Exception) { } // the caller is gone or not reading: nobody to tell
            replies.TryComplete();
        }
        catch (Exception) when (cancellation.IsCancellationRequested)
        {
            Interlocked.Increment(ref counters.Served); // the caller cancelled or went away: served until then
            replies.TryComplete(); // nobody to tell
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref counters.Failed);
            var error = context.ErrorOf(e); // logged under an error id unless thrown on purpose
            try { await replies.WriteAsync(new Response("", null, error), cancellation).ConfigureAwait(false); }
            catch (Exception) { } // the caller is gone: nobody to tell
            replies.TryComplete();
        }
    }

    /// <summary>The caller's requests as the handler reads them, decoded; the caller's failure or silence ends them with a typed error.</summary>
    private async IAsyncEnumerable<object> ReadRequests(ChannelReader<Response> queue, UniqueKillSwitch stop, ICodec codec, StreamEndpoint endpoint,
        StreamCount count, CancellationToken stream, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stream, cancellation);
        var type = Codecs.IsNative(codec.ContentType) ? typeof(object) : endpoint.RequestType;
        try
        {
            while (true)
            {
                var next = await PullAsync(queue, "the caller's requests", _idle, both.Token).ConfigureAwait(false);
                if (!next.HasValue) yield break;
                if (next.Value.Error is { } error) throw error.ToException();
                object message;
                try { message = codec.Decode(next.Value.Body ?? [], type) ?? throw new CodecException("null"); }
                catch (Exception e) { throw MicroError.BadRequest(ErrorId, $"a request is not a {endpoint.RequestType.Name} in {codec.ContentType}: {e.Message}").ToException(); }
                if (!endpoint.RequestType.IsInstanceOfType(message))
                    throw MicroError.BadRequest(ErrorId, $"{endpoint.Name} takes {endpoint.RequestType.Name} requests, not a {message.GetType().Name}").ToException();
                count.OneReceived();
                yield return message;
            }
        }
        finally { stop.Shutdown(); } // the handler stopped reading: the caller stops sending
    }

    /// <summary>The next item of a stream, or its end; stream failures become typed errors.</summary>
    internal static async Task<Option<Response>> PullAsync(ChannelReader<Response> queue, string what, TimeSpan idle, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested(); // items may be waiting: a cancelled reader still stops here
        try
        {
            if (queue.TryRead(out var ready)) return ready;
            return await queue.WaitToReadAsync(cancellation).ConfigureAwait(false) && queue.TryRead(out var item) ? item : Option<Response>.None;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { throw; }
        catch (Exception e) when (e is not MicroException)
        {
            var cause = e is ChannelClosedException { InnerException: { } inner } ? inner : e;
            if (cause is TimeoutException)
                throw MicroError.Timeout("micro.stream", $"{what}: nothing came for {idle.TotalSeconds:0.###} s (micro.streaming.idle-timeout)").ToException();
            throw MicroError.ServiceUnavailable("micro.stream", cause is RemoteStreamRefActorTerminatedException
                ? $"{what} ended: the node at the other end is gone (it stopped, crashed or dropped the connection)"
                : $"{what} ended: {cause.Message}").ToException();
        }
    }
}
