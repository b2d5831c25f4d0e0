using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;
using Micro.Actors.Server;

namespace Micro.Actors.Streaming;

/// <summary>
/// The caller's side of streams. Opening goes through the registry and the selector like a call:
/// a random node with the endpoint, another one if it refuses or does not answer in time (that one is
/// sidelined, as by the router, and the selector hears how each try went). Once open,
/// a stream is bound to its node; reading pulls one item at a time (back-pressure to the handler),
/// and requests are pulled from the caller's sequence only as fast as the handler takes them.
/// </summary>
internal sealed class StreamClient(ActorSystem system, IActorRef registry, ClientDefaults defaults, TimeSpan idle, int buffer)
{
    private const string ErrorId = "micro.stream";
    private readonly IMaterializer _materializer = system.Materializer();
    /// <summary>Nodes that refused or did not answer an open a moment ago (streams open from any thread: locked).</summary>
    private readonly Sidelines _sidelined = new(defaults.Sideline, defaults.Time);

    private bool IsSidelined(ServiceNode node)
    {
        lock (_sidelined) return _sidelined.Contains(node.Id);
    }

    /// <summary>A try on <paramref name="node"/> ended: sideline it if it failed, and tell the selector.</summary>
    private static void Tried(ISelector selector, Sidelines sidelined, ServiceNode node, MicroError? error, long started)
    {
        if (error is { Code: 502 or 503 or 504 }) lock (sidelined) sidelined.Add(node.Id); // the node failed, not the request
        try { selector.Mark(node, error, System.Diagnostics.Stopwatch.GetElapsedTime(started)); }
        catch (Exception) { } // a selector's feedback is not the stream's problem
    }

    /// <summary>The call wrappers, run around each attempt to open (as around each attempt of a call); null: none.</summary>
    public Wrappers.Pipeline<Wrappers.CallDelegate>? Attempts { get; init; }

    /// <summary>
    /// Opens a stream: the body of its one request (server streams), or none (the requests follow through
    /// <see cref="StreamOpened.Requests"/>). Planned like a call: nodes from <see cref="Selection"/>, failed ones
    /// sidelined, and after a failed try <see cref="RetryPlan"/> says whether another node is worth it and when.
    /// </summary>
    /// <param name="call">The call as the client wrappers left it; null without client wrappers.</param>
    public async Task<(StreamOpened Opened, ServiceNode Node, Action Cancel)> OpenAsync(string service, string endpoint, StreamKind? kind, byte[]? body,
        string contentType, CallOptions options, CancellationToken cancellation, Wrappers.CallContext? call = null)
    {
        var timeout = options.Timeout ?? defaults.RequestTimeout;
        var deadline = Now + timeout;
        var retries = Math.Max(0, options.Retries ?? defaults.Retries);
        var headers = options.Headers ?? new Dictionary<string, string>();
        var tried = new HashSet<string>(StringComparer.Ordinal);
        MicroError? last = null;
        for (var attempt = 1; attempt <= retries + 1; attempt++)
        {
            var view = await ViewAsync(service, deadline, cancellation).ConfigureAwait(false);
            var candidates = Selection.Narrow(view.NodesOf(service), view.ServiceNames, service, endpoint, options.Filters, options.Address, tried, IsSidelined, streaming: true);
            if (candidates.Error is { } error) throw (last is not null && error.Code == 503 ? last : error).ToException();
            var info = candidates.Nodes[0].Endpoints.FirstOrDefault(e => e.Name == endpoint);
            if (info?.Stream is not { } actual)
                throw MicroError.BadRequest(ErrorId, $"{service} {endpoint} is not a streaming endpoint: call it with CallAsync").ToException();
            if (kind is { } wanted && wanted != actual)
                throw MicroError.BadRequest(ErrorId, $"{service} {endpoint} is a {Describe(actual)} stream; open it with {OpenWith(actual)}").ToException();
            var selector = options.Selector ?? defaults.Selector;
            var node = selector.Select(candidates.Nodes);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            tried.Add(node.Id);
            var remaining = deadline - Now;
            if (remaining <= TimeSpan.Zero) break;
            if (call is not null) (call.Attempts, call.NodesTried) = (attempt, tried.Count); // this attempt goes
            // Leave time for another node: a node that does not answer gets its share of the deadline, not all of it.
            var share = remaining / (retries - attempt + 2);
            var server = system.ActorSelection(Service.MicroExtension.On(node.Address, StreamServerActor.Name));
            MicroError failure;
            try
            {
                var opened = Attempts?.Current is not { } attempts
                    ? await TryOpenAsync(server, node, service, endpoint, contentType, headers, body, share, cancellation).ConfigureAwait(false)
                    : await TryWrappedAsync(attempts, call, attempt, server, node, service, endpoint, kind ?? actual, contentType, headers, body, share, deadline, cancellation).ConfigureAwait(false);
                Tried(selector, _sidelined, node, null, started);
                return opened;
            }
            catch (MicroException e)
            {
                failure = e.Error;
            }
            // A node that did not answer in its share counts as a failed node: another may open in time.
            var asNodeFailure = failure.Code == 408 ? MicroError.ServiceUnavailable(ErrorId, failure.Detail) : failure;
            Tried(selector, _sidelined, node, asNodeFailure, started);
            last = failure;
            var next = RetryPlan.AfterFailure(asNodeFailure, retries - attempt + 1, attempt, Now, deadline, options.RetryOn ?? defaults.RetryOn, options.Backoff);
            if (!next.Retry) throw failure.ToException();
            if (next.Delay > TimeSpan.Zero) await Task.Delay(next.Delay, defaults.Time, cancellation).ConfigureAwait(false);
        }
        throw (last ?? MicroError.Timeout(ErrorId, $"{service} {endpoint} could not be opened within {timeout.TotalSeconds:0.###} s")).ToException();
    }

    /// <summary>One try on <paramref name="node"/>: open, or a typed error (its refusal, or 408 when it did not answer in <paramref name="share"/>).</summary>
    private static async Task<(StreamOpened, ServiceNode, Action)> TryOpenAsync(ActorSelection server, ServiceNode node, string service, string endpoint,
        string contentType, IReadOnlyDictionary<string, string> headers, byte[]? body, TimeSpan share, CancellationToken cancellation)
    {
        var open = new StreamOpen(Guid.NewGuid().ToString("N"), service, endpoint, contentType, headers, body);
        try
        {
            return await server.Ask<object>(open, share, cancellation).ConfigureAwait(false) switch
            {
                StreamOpened opened => (opened, node, () => server.Tell(new StreamCancel(open.Id))),
                StreamRefused refused => throw refused.Error.ToException(),
                var other => throw MicroError.InternalServerError(ErrorId, $"{node.HostPort} answered the open of {endpoint} with {other.GetType().Name}").ToException(),
            };
        }
        catch (AskTimeoutException)
        {
            server.Tell(new StreamCancel(open.Id)); // it may open after all: nobody would read it
            throw MicroError.Timeout(ErrorId, $"{service} at {node.HostPort} did not open {endpoint} in time").ToException();
        }
        catch (OperationCanceledException)
        {
            server.Tell(new StreamCancel(open.Id));
            throw;
        }
    }

    /// <summary>One try through the call wrappers: they see the node and the attempt, and may change the headers that go.</summary>
    private static async Task<(StreamOpened, ServiceNode, Action)> TryWrappedAsync(Wrappers.CallDelegate pipeline, Wrappers.CallContext? call, int attempt,
        ActorSelection server, ServiceNode node, string service, string endpoint, StreamKind kind, string contentType, IReadOnlyDictionary<string, string> headers,
        byte[]? body, TimeSpan share, DateTime deadline, CancellationToken cancellation)
    {
        call ??= new Wrappers.CallContext(service, endpoint, Guid.NewGuid().ToString("N"), KindOf(kind), contentType, body, deadline, headers);
        var context = new Wrappers.CallContext(call, attempt, node, deadline);
        if (attempt > 1) context.Headers[Metadata.MetadataKeys.Attempt] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (StreamOpened, ServiceNode, Action)? opened = null;
        context.Send = async c =>
        {
            opened = await TryOpenAsync(server, node, service, endpoint, contentType, c.OutgoingHeaders, body, share, cancellation).ConfigureAwait(false);
            return null;
        };
        try { await pipeline(context).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (opened is { } stray) stray.Item3(); // opened, but a wrapper failed after: nobody will read it
            if (e is MicroException) throw;
            throw MicroException.ToError(e, "micro.client").ToException();
        }
        return opened ?? throw MicroError.InternalServerError("micro.client",
            $"a call wrapper ended an attempt to open {service} {endpoint} without opening it (it returned without calling next)").ToException();
    }

    internal static Wrappers.CallKind KindOf(StreamKind kind) => kind switch
    {
        StreamKind.Server => Wrappers.CallKind.ServerStream,
        StreamKind.Client => Wrappers.CallKind.ClientStream,
        _ => Wrappers.CallKind.Bidirectional,
    };

    private DateTime Now => defaults.Time.GetUtcNow().UtcDateTime;

    /// <summary>The caller's requests on their way: the switch that stops them, and how their sending ended.</summary>
    public sealed record Sending(UniqueKillSwitch Switch, Task Done);

    /// <summary>
    /// The replies of an open stream, one pull at a time; the end of the enumeration (or its cancellation)
    /// cancels the stream. A client stream's one reply comes only at the end, so it has no idle timeout
    /// of its own (the handler's side times out silent requests).
    /// </summary>
    /// <param name="count">Counts the replies read.</param>
    /// <param name="ended">Told how the stream ended (its error, and whether it was read to its end).</param>
    public async IAsyncEnumerable<byte[]> ReadAsync(StreamOpened opened, string what, Sending? requests, bool replyAtEnd, Action cancel,
        StreamCount count, Action<MicroError?, bool>? ended, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var source = replyAtEnd ? opened.Responses.Source : opened.Responses.Source.IdleTimeout(idle);
        var (stop, queue) = source
            .ViaMaterialized(KillSwitches.Single<Response>(), Keep.Right)
            .ToMaterialized(ChannelSink.AsReader<Response>(buffer, singleReader: true), Keep.Both)
            .Run(_materializer);
        var finished = false;
        MicroError? failure = null;
        try
        {
            while (true)
            {
                Akka.Util.Option<Response> next;
                Exception? failed = null;
                try
                {
                    next = await StreamServerActor.PullAsync(queue, what, idle, cancellation).ConfigureAwait(false);
                    if (next.HasValue && next.Value.Error is { } error) throw error.ToException();
                }
                catch (MicroException e)
                {
                    // The caller's own requests may have failed (one that cannot be encoded, a sequence that
                    // threw): that, not the handler's view of it, is what the caller needs to hear. No wait
                    // is needed: the sending stream records its failure before it passes it on to the handler.
                    // Sending that failed because the handler's side ended (e.g. its idle timeout) is not the cause.
                    failed = requests?.Done.Exception?.GetBaseException() is { } cause and not RemoteStreamRefActorTerminatedException ? cause : e;
                    next = default;
                }
                if (failed is not null)
                {
                    var thrown = failed as MicroException ?? MicroError.BadRequest(ErrorId, $"the requests of {what} failed: {failed.Message}").ToException();
                    failure = thrown.Error;
                    throw thrown;
                }
                if (!next.HasValue) break;
                count.OneReceived();
                yield return next.Value.Body ?? [];
            }
            finished = true;
        }
        finally
        {
            stop.Shutdown();
            if (finished) requests?.Switch.Shutdown(); // the handler is done: nothing more to send
            else
            {
                cancel();
                requests?.Switch.Abort(new OperationCanceledException("the caller stopped reading"));
            }
            ended?.Invoke(failure, finished);
        }
    }

    /// <summary>Sends the caller's requests into an open stream, each pulled from <paramref name="requests"/> only when the handler wants one.</summary>
    public Sending Send(StreamOpened opened, IAsyncEnumerable<byte[]> requests, StreamCount count)
    {
        var (stop, done) = Source.From(() => requests)
            .Select(data =>
            {
                count.OneSent();
                return new Response("", data, null);
            })
            .ViaMaterialized(KillSwitches.Single<Response>(), Keep.Right)
            .WatchTermination(Keep.Both)
            .To(opened.Requests!.Sink)
            .Run(_materializer);
        return new Sending(stop, done);
    }

    /// <summary>The registry's view once it can say whether <paramref name="service"/> exists (this node joined, its descriptors in).</summary>
    private async Task<RegistryView> ViewAsync(string service, DateTime deadline, CancellationToken cancellation)
    {
        while (true)
        {
            RegistryView view;
            var left = deadline - Now;
            // This node's own registry answers in microseconds; one that does not (the node is stopping)
            // ends the open by its deadline with a typed error, not Akka's AskTimeoutException.
            try { view = await registry.Ask<RegistryView>(RegistryActor.GetView.Instance, left > MinimumAsk ? left : MinimumAsk, cancellation).ConfigureAwait(false); }
            catch (AskTimeoutException)
            {
                throw MicroError.Timeout(ErrorId, $"this node's registry did not answer within the deadline, so {service} could not be looked up; " +
                    "is this node stopping? Open streams from a running node").ToException();
            }
            if (view.IsSettled(service)) return view;
            if (Now >= deadline)
                throw MicroError.ServiceUnavailable(ErrorId, view.MembershipKnown
                    ? $"the registry is still learning about {service}; try again shortly"
                    : defaults.NotJoinedReason()).ToException();
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan MinimumAsk = TimeSpan.FromMilliseconds(100);

    private static string Describe(StreamKind kind) => kind switch
    {
        StreamKind.Server => "server",
        StreamKind.Client => "client",
        _ => "bidirectional",
    };

    private static string OpenWith(StreamKind kind) => kind switch
    {
        StreamKind.Server => "StreamAsync(service, endpoint, request)",
        StreamKind.Client => "ClientStreamAsync(service, endpoint, requests)",
        _ => "StreamAsync(service, endpoint, requests)",
    };
}
