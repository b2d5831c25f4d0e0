using System.Diagnostics;
using Micro.Actors.Errors;
using Micro.Actors.Wrappers;

namespace Micro.Actors.Observability;

/// <summary>
/// Traces of calls, as wrappers on the node's seams (go-micro's <c>wrapper/trace/opentelemetry</c>): a CLIENT
/// span per call, covering all its retries, with an event per attempt (its node and outcome); a SERVER span per
/// request handled, whose parent is the caller's span on the other node. W3C trace context
/// (<c>traceparent</c>, <c>tracestate</c>, <c>baggage</c>) travels in the request's headers, and from a handler
/// on into the calls it makes (the node's ambient metadata), so one trace crosses every hop.
/// Spans come from the <see cref="ActivitySource"/> <see cref="SourceName"/>; without a listener none is made.
/// </summary>
public static class Tracing
{
    /// <summary>The name of Micro.Actors' <see cref="ActivitySource"/> (and, later, its <c>Meter</c>).</summary>
    public const string SourceName = "Micro.Actors";

    internal static readonly ActivitySource Source = new(SourceName, typeof(Tracing).Assembly.GetName().Version?.ToString());

    /// <summary>Adds the tracing wrappers. Wrappers run in the order added, outermost first: add these before your own, so their time is inside the spans.</summary>
    public static WrapperOptions AddTracing(this WrapperOptions wrappers) =>
        wrappers.AddClient(new ClientSpans()).AddCall(new AttemptEvents()).AddHandler(new ServerSpans());

    /// <summary>OpenTelemetry's <c>rpc.method</c>: <c>Service/Method</c>, from an endpoint <c>Group.Method</c>.</summary>
    internal static string RpcMethod(string endpoint) =>
        endpoint.IndexOf('.') is var dot and > 0 ? $"{endpoint[..dot]}/{endpoint[(dot + 1)..]}" : endpoint;

    private static void Describe(Activity activity, string service, string endpoint)
    {
        var dot = endpoint.IndexOf('.');
        activity.SetTag("rpc.system.name", "micro.actors");
        activity.SetTag("rpc.method", RpcMethod(endpoint));
        activity.SetTag("rpc.system", "micro.actors");   // the older names, still what many dashboards read
        activity.SetTag("rpc.service", dot > 0 ? endpoint[..dot] : endpoint);
        activity.SetTag("micro.service", service);
    }

    private static void Failed(Activity activity, MicroError error)
    {
        activity.SetStatus(ActivityStatusCode.Error, error.Detail);
        activity.SetTag("rpc.status_code", error.Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        activity.SetTag("error.type", error.Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void Inject(Activity activity, IDictionary<string, string> headers) =>
        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, key, value) =>
        {
            if (carrier is IDictionary<string, string> h && value is not null) h[key] = value;
        });

    private static ActivityContext Extract(IDictionary<string, string> headers)
    {
        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? carrier, string key, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = carrier is IDictionary<string, string> h && h.TryGetValue(key, out var v) ? v : null;
        }, out var parent, out var state);
        return ActivityContext.TryParse(parent, state, isRemote: true, out var context) ? context : default;
    }

    /// <summary>The CLIENT span of a call: its parent is the caller's current span, or the trace of the request a handler is serving.</summary>
    private sealed class ClientSpans : IClientWrapper
    {
        public async Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next)
        {
            if (!Source.HasListeners()) return await next(call).ConfigureAwait(false);
            var parent = Activity.Current?.Context ?? Extract(call.Headers);
            using var activity = Source.StartActivity(RpcMethod(call.Endpoint), ActivityKind.Client, parent);
            if (activity is null) return await next(call).ConfigureAwait(false);
            Describe(activity, call.Service, call.Endpoint);
            Inject(activity, call.Headers);
            call.Items[typeof(ClientSpans)] = activity; // the attempts' events go on it
            try { return await next(call).ConfigureAwait(false); }
            catch (MicroException e)
            {
                Failed(activity, e.Error);
                throw;
            }
        }
    }

    /// <summary>Each attempt, as an event on the call's span: which node, which try, how it went.</summary>
    private sealed class AttemptEvents : ICallWrapper
    {
        public async Task<byte[]?> InvokeAsync(CallContext attempt, CallDelegate next)
        {
            if (!attempt.Items.TryGetValue(typeof(ClientSpans), out var found) || found is not Activity span) return await next(attempt).ConfigureAwait(false);
            var node = attempt.Node!;
            if (attempt.Attempt == 1)
            {
                span.SetTag("server.address", node.Address.Host);
                span.SetTag("server.port", node.Address.Port);
            }
            try
            {
                var body = await next(attempt).ConfigureAwait(false);
                span.AddEvent(Attempted(attempt, "ok"));
                return body;
            }
            catch (MicroException e)
            {
                span.AddEvent(Attempted(attempt, e.Error.Code.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                throw;
            }
        }

        private static ActivityEvent Attempted(CallContext attempt, string outcome) => new("micro.attempt", tags: new ActivityTagsCollection
        {
            ["micro.attempt"] = attempt.Attempt,
            ["micro.node"] = attempt.Node!.HostPort,
            ["micro.outcome"] = outcome,
        });
    }

    /// <summary>The SERVER span of a request; the handler's own calls and publishes continue its trace.</summary>
    private sealed class ServerSpans : IHandlerWrapper
    {
        public async Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next)
        {
            if (!Source.HasListeners()) return await next(handler).ConfigureAwait(false);
            using var activity = Source.StartActivity(RpcMethod(handler.Endpoint), ActivityKind.Server, Extract(handler.Headers));
            if (activity is null) return await next(handler).ConfigureAwait(false);
            Describe(activity, handler.Service, handler.Endpoint);
            activity.SetTag("micro.node", handler.Node);
            if (handler.Attempt > 1) activity.SetTag("micro.attempt", handler.Attempt);
            Inject(activity, handler.Headers); // what the handler's own calls carry on
            try { return await next(handler).ConfigureAwait(false); }
            catch (MicroException e)
            {
                Failed(activity, e.Error);
                throw;
            }
        }
    }
}
