namespace Micro.Actors.Server;

/// <summary>What a handler can know about the call it is serving.</summary>
public sealed class RequestContext
{
    private CancellationTokenSource? _cancellation;

    internal RequestContext(Request request, DateTime deadlineUtc, Errors.HandlerFailure failures, Micro.Actors.Service.HandlerServices? services = null)
    {
        Request = request;
        Deadline = deadlineUtc;
        _failures = failures;
        _services = services ?? Micro.Actors.Service.HandlerServices.None;
    }

    /// <summary>A stream's context: no deadline; cancelled when the caller goes away or cancels.</summary>
    internal RequestContext(Request request, CancellationToken stream, Errors.HandlerFailure failures, Micro.Actors.Service.HandlerServices? services = null)
    {
        Request = request;
        Deadline = DateTime.MaxValue;
        _stream = stream;
        _failures = failures;
        _services = services ?? Micro.Actors.Service.HandlerServices.None;
    }

    private readonly Micro.Actors.Service.HandlerServices _services;
    /// <summary>How the node answers and logs a handler's failure (<see cref="ErrorOf"/>).</summary>
    private readonly Errors.HandlerFailure _failures;
    private Micro.Actors.Service.LazyScope _scope;

    /// <summary>
    /// This request's own dependency-injection scope (ASP.NET Core's <c>RequestServices</c>): a scoped
    /// service is new for each request and disposed once the request is answered (a stream: once it ends).
    /// Made on first use. Needs a node with a service provider (Micro.Actors.Hosting, or MicroServiceOptions.Services).
    /// </summary>
    public IServiceProvider Services => _scope.Get(_services, this);

    /// <summary>The request's id, service and endpoint as the logging scope of what a handler logs.</summary>
    internal IDisposable? BeginLogScope() => !_services.Logs ? null : _services.BeginScope("request", Request.Id, Request.Service, Request.Endpoint, () => Headers);

    private readonly CancellationToken? _stream;

    internal Request Request { get; }

    /// <summary>The call's id: the same on every retry of one call (retries make handlers at-least-once).</summary>
    public string Id => Request.Id;
    public string Service => Request.Service;
    public string Endpoint => Request.Endpoint;
    public string ContentType => Request.ContentType;
    /// <summary>The caller's metadata (go-micro's context metadata).</summary>
    public IReadOnlyDictionary<string, string> Headers
    {
        get => _headers ?? Request.Headers;
        internal set => _headers = value; // as handler wrappers leave them
    }

    private IReadOnlyDictionary<string, string>? _headers;
    /// <summary>When the caller stops waiting, on this node's clock (UTC); <see cref="DateTime.MaxValue"/> for a stream.</summary>
    public DateTime Deadline { get; }
    public TimeSpan Remaining => _stream is not null ? Timeout.InfiniteTimeSpan
        : Deadline - DateTime.UtcNow is var r && r > TimeSpan.Zero ? r : TimeSpan.Zero;
    public bool IsOneWay => Request.OneWay;

    /// <summary>Cancelled at the deadline (a stream: when the caller cancels or is gone): pass it on to work the caller will no longer wait for.</summary>
    public CancellationToken Cancellation
    {
        get
        {
            if (_stream is { } stream) return stream;
            if (Volatile.Read(ref _released)) return new CancellationToken(canceled: true);
            var cts = Volatile.Read(ref _cancellation);
            if (cts is null)
            {
                var fresh = new CancellationTokenSource(Remaining);
                cts = Interlocked.CompareExchange(ref _cancellation, fresh, null) ?? fresh;
                if (!ReferenceEquals(cts, fresh)) fresh.Dispose();
                if (Volatile.Read(ref _released)) Release(); // answered meanwhile: don't leave a timer behind
            }
            try { return cts.Token; }
            catch (ObjectDisposedException) { return new CancellationToken(canceled: true); }
        }
    }

    private bool _released;

    /// <summary>Whether a failure is this request's own deadline cancelling its handler: a timeout (408), not a fault.</summary>
    internal bool IsDeadline(Exception e) =>
        (e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e) is OperationCanceledException
        && _stream is null
        // The token's timer counts whole milliseconds, so it may fire a little before the deadline by this clock.
        && (Remaining == TimeSpan.Zero || Volatile.Read(ref _cancellation)?.IsCancellationRequested == true);

    /// <summary>The error a handler's exception answers with (any but a <see cref="Errors.MicroException"/> or the deadline's is logged under an error id).</summary>
    internal Errors.MicroError ErrorOf(Exception e) => IsDeadline(e)
        ? Errors.MicroError.Timeout(Service, $"{Service} {Endpoint} did not answer within {Request.Timeout.TotalSeconds:0.###} s: its handler was cancelled at the caller's deadline")
        : _failures.Report(e, Service, Endpoint, Id, stream: _stream is not null);

    /// <summary>The call has been answered: cancel what still listens and free the timer.</summary>
    internal void Release()
    {
        Volatile.Write(ref _released, true);
        _scope.End(_services, this);
        if (Interlocked.Exchange(ref _cancellation, null) is { } cts)
        {
            // The handler's own callbacks run here, on the answering thread: one that throws must
            // not stop the answer from leaving.
            try { cts.Cancel(); }
            catch (AggregateException) { }
            finally { cts.Dispose(); }
        }
    }
}
