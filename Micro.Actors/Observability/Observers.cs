using System.Diagnostics;
using Micro.Actors.Errors;
using Micro.Actors.Wrappers;

namespace Micro.Actors.Observability;

/// <summary>
/// The node's instrumentation, as wrappers on its seams (go-micro's <c>wrapper/trace/opentelemetry</c>): every
/// node has them, outermost, and while nobody listens to the <c>ActivitySource</c> or the <c>Meter</c> the
/// node skips them (<see cref="IObservingWrapper"/>), so they cost a check per call.
/// </summary>
internal static class Observers
{
    public static WrapperOptions AddObservers(this WrapperOptions wrappers) => wrappers
        .AddClient(new ClientObserver()).AddCall(new AttemptObserver()).AddHandler(new HandlerObserver())
        .AddPublish(new PublishObserver()).AddSubscriber(new SubscriberObserver());

    private static double SecondsSince(long start) => Stopwatch.GetElapsedTime(start).TotalSeconds;

    /// <summary>What the attempts of one call leave for each other and for the call.</summary>
    private sealed class CallTrail
    {
        public Activity? Span;
        public string? LastNode;
    }

    /// <summary>
    /// A call, all its attempts included: a CLIENT span (its parent the caller's current span, or the trace of the
    /// request a handler is serving), <c>rpc.client.call.duration</c>, and the calls in flight per service. A
    /// stream's span, duration and place in flight last from its opening to its end, with the items each way.
    /// </summary>
    private sealed class ClientObserver : IClientWrapper, IObservingWrapper
    {
        public bool Observed => Tracing.Source.HasListeners() || Metrics.ClientDuration.Enabled || Metrics.InFlight.Enabled || Metrics.Retries.Enabled || Metrics.Failovers.Enabled;

        public async Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next)
        {
            var start = Stopwatch.GetTimestamp();
            CallTrail? trail = null; // for the attempts' events: only when tracing
            if (Tracing.Source.HasListeners())
            {
                trail = new CallTrail();
                call.Items[typeof(CallTrail)] = trail;
                var parent = Activity.Current?.Context ?? Tracing.Extract(call.Headers);
                trail.Span = Tracing.Source.StartActivity(Conventions.RpcMethod(call.Endpoint), ActivityKind.Client, parent);
                if (trail.Span is { } span)
                {
                    Conventions.DescribeCall(span, call.Service, call.Endpoint);
                    if (call.Kind != CallKind.Unary) span.SetTag("micro.call.kind", call.Kind.ToString());
                    Tracing.Inject(span, call.Headers);
                }
            }
            var target = new TagList { { "micro.service", call.Service } };
            Metrics.InFlight.Add(1, target);
            MicroError? error = null;
            var opened = false;
            try
            {
                var body = await next(call).ConfigureAwait(false);
                if (call.Stream is not null)
                {
                    opened = true;
                    call.StreamEnded = (failure, finished) => End(call, trail?.Span, start, target, failure, finished);
                }
                return body;
            }
            catch (OperationCanceledException)
            {
                // The caller gave up (its own token; the call's deadline is a 408): not the service's failure.
                error = MicroError.New("micro.client", MicroError.ClientClosedRequest, "the caller cancelled the call");
                throw;
            }
            catch (Exception e)
            {
                error = MicroException.ToError(e, call.Service);
                throw;
            }
            finally
            {
                if (call.Attempts > 1)
                {
                    var tags = new TagList { { "micro.service", call.Service }, { "rpc.method", Conventions.RpcMethod(call.Endpoint) } };
                    Metrics.Retries.Add(call.Attempts - 1, tags);
                    if (call.NodesTried > 1) Metrics.Failovers.Add(call.NodesTried - 1, tags);
                }
                if (!opened) End(call, trail?.Span, start, target, error, finished: true);
            }
        }

        private static void End(CallContext call, Activity? span, long start, TagList target, MicroError? error, bool finished)
        {
            Metrics.InFlight.Add(-1, target);
            if (Metrics.ClientDuration.Enabled) Metrics.ClientDuration.Record(SecondsSince(start), Conventions.CallTags(call.Service, call.Endpoint, error));
            if (span is null) return;
            if (call.Stream is { } stream) Conventions.Streamed(span, stream, finished);
            Conventions.Ended(span, error);
            span.Dispose();
        }
    }

    /// <summary>
    /// Each attempt, as an event on its call's span (which node, which try, how it went). Only for traces: the
    /// retries and failovers are counted around the whole call from the router's count, which spares a call the
    /// wrapped attempt's round trip through the router when only metrics are on.
    /// </summary>
    private sealed class AttemptObserver : ICallWrapper, IObservingWrapper
    {
        public bool Observed => Tracing.Source.HasListeners();

        public async Task<byte[]?> InvokeAsync(CallContext attempt, CallDelegate next)
        {
            var trail = attempt.Items.TryGetValue(typeof(CallTrail), out var found) && found is CallTrail t ? t : null;
            var node = attempt.Node!;
            var failover = trail?.LastNode is { } last && last != node.HostPort;
            if (trail is not null) trail.LastNode = node.HostPort;
            var span = trail?.Span;
            if (span is null) return await next(attempt).ConfigureAwait(false);
            span.SetTag("server.address", node.Address.Host);
            span.SetTag("server.port", node.Address.Port);
            if (attempt.Attempt > 1) span.SetTag("micro.attempts", attempt.Attempt);
            try
            {
                var body = await next(attempt).ConfigureAwait(false);
                span.AddEvent(Attempted(attempt, "200", failover));
                return body;
            }
            catch (MicroException e)
            {
                span.AddEvent(Attempted(attempt, Conventions.Code(e.Error), failover));
                throw;
            }
        }

        private static ActivityEvent Attempted(CallContext attempt, string outcome, bool failover)
        {
            var tags = new ActivityTagsCollection
            {
                ["micro.attempt"] = attempt.Attempt,
                ["micro.node"] = attempt.Node!.HostPort,
                ["micro.outcome"] = outcome,
            };
            if (failover) tags["micro.failover"] = true;
            return new ActivityEvent("micro.attempt", tags: tags);
        }
    }

    /// <summary>A request served: a SERVER span whose parent is the caller's span, and <c>rpc.server.call.duration</c>; the handler's own calls and publishes continue its trace.</summary>
    private sealed class HandlerObserver : IHandlerWrapper, IObservingWrapper
    {
        public bool Observed => Tracing.Source.HasListeners() || Metrics.ServerDuration.Enabled;

        public async Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next)
        {
            var start = Stopwatch.GetTimestamp();
            using var span = Tracing.Source.HasListeners()
                ? Tracing.Source.StartActivity(Conventions.RpcMethod(handler.Endpoint), ActivityKind.Server, Tracing.Extract(handler.Headers))
                : null;
            if (span is not null)
            {
                Conventions.DescribeCall(span, handler.Service, handler.Endpoint);
                span.SetTag("micro.node", handler.Node);
                if (handler.Attempt > 1) span.SetTag("micro.attempt", handler.Attempt);
                if (handler.Kind != CallKind.Unary) span.SetTag("micro.call.kind", handler.Kind.ToString());
                Tracing.Inject(span, handler.Headers); // what the handler's own calls carry on, and its logs' trace and span ids
            }
            MicroError? error = null;
            var stopped = false;
            try { return await next(handler).ConfigureAwait(false); }
            catch (Exception) when (handler.Stream is not null && handler.Request.Cancellation.IsCancellationRequested)
            {
                stopped = true; // the caller stopped reading (or went away): the stream's end, not the handler's failure
                throw;
            }
            catch (Exception e)
            {
                error = MicroException.ToError(e, handler.Service);
                throw;
            }
            finally
            {
                if (Metrics.ServerDuration.Enabled) Metrics.ServerDuration.Record(SecondsSince(start), Conventions.CallTags(handler.Service, handler.Endpoint, error));
                if (span is not null && handler.Stream is { } stream) Conventions.Streamed(span, stream, finished: !stopped);
                Conventions.Ended(span, error);
            }
        }
    }

    /// <summary>A publish: a PRODUCER span whose context travels with the event, and <c>messaging.client.sent.messages</c>.</summary>
    private sealed class PublishObserver : IPublishWrapper, IObservingWrapper
    {
        public bool Observed => Tracing.Source.HasListeners() || Metrics.Sent.Enabled;

        public async Task InvokeAsync(PublishContext publish, PublishDelegate next)
        {
            using var span = Tracing.Source.HasListeners()
                ? Tracing.Source.StartActivity($"publish {publish.Topic}", ActivityKind.Producer, Activity.Current?.Context ?? Tracing.Extract(publish.Headers))
                : null;
            if (span is not null)
            {
                Conventions.DescribeEvent(span, publish.Topic, "send", "publish");
                if (!publish.Options.OnePerQueue) span.SetTag("micro.broadcast", true);
                Tracing.Inject(span, publish.Headers);
            }
            string? failed = null;
            try { await next(publish).ConfigureAwait(false); }
            catch (Exception e)
            {
                failed = Conventions.Failed(span, e);
                throw;
            }
            finally
            {
                if (Metrics.Sent.Enabled) Metrics.Sent.Add(1, Conventions.EventTags(publish.Topic, "publish", null, failed));
            }
        }
    }

    /// <summary>An event delivered: a CONSUMER span, child of and linked to the publisher's, and <c>messaging.process.duration</c>.</summary>
    private sealed class SubscriberObserver : ISubscriberWrapper, IObservingWrapper
    {
        public bool Observed => Tracing.Source.HasListeners() || Metrics.ProcessDuration.Enabled;

        public async Task InvokeAsync(EventCall delivery, EventDelegate next)
        {
            var start = Stopwatch.GetTimestamp();
            Activity? span = null;
            if (Tracing.Source.HasListeners())
            {
                var producer = Tracing.Extract(delivery.Headers);
                span = Tracing.Source.StartActivity(ActivityKind.Consumer, producer, links: producer == default ? null : [new ActivityLink(producer)],
                    name: $"process {delivery.Topic}");
                if (span is not null)
                {
                    Conventions.DescribeEvent(span, delivery.Topic, "process", "process");
                    span.SetTag("messaging.message.id", delivery.EventId);
                    if (delivery.Queue is { } queue) span.SetTag("messaging.consumer.group.name", queue);
                    Tracing.Inject(span, delivery.Headers);
                }
            }
            string? failed = null;
            try { await next(delivery).ConfigureAwait(false); }
            catch (Exception e)
            {
                failed = Conventions.Failed(span, e);
                throw;
            }
            finally
            {
                if (Metrics.ProcessDuration.Enabled) Metrics.ProcessDuration.Record(SecondsSince(start), Conventions.EventTags(delivery.Topic, "process", delivery.Queue, failed));
                span?.Dispose();
            }
        }
    }
}
