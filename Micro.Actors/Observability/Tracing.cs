using System.Diagnostics;

namespace Micro.Actors.Observability;

/// <summary>The node's <see cref="ActivitySource"/>, and W3C trace context in and out of a call's or event's headers.</summary>
internal static class Tracing
{
    public static readonly ActivitySource Source = new(Telemetry.SourceName, Telemetry.Version);

    /// <summary>Puts <paramref name="activity"/>'s context (<c>traceparent</c>, <c>tracestate</c>, <c>baggage</c>) into <paramref name="headers"/>.</summary>
    public static void Inject(Activity activity, IDictionary<string, string> headers) =>
        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, key, value) =>
        {
            if (carrier is IDictionary<string, string> h && value is not null) h[key] = value;
        });

    /// <summary>The remote parent a caller or publisher put into <paramref name="headers"/>; default when there is none.</summary>
    public static ActivityContext Extract(IDictionary<string, string> headers)
    {
        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? carrier, string key, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = carrier is IDictionary<string, string> h && h.TryGetValue(key, out var v) ? v : null;
        }, out var parent, out var state);
        return ActivityContext.TryParse(parent, state, isRemote: true, out var context) ? context : default;
    }

    /// <summary>The trace and span id of a <c>traceparent</c> header (<c>00-{trace}-{span}-{flags}</c>), for logging scopes.</summary>
    public static (string TraceId, string SpanId)? Ids(IReadOnlyDictionary<string, string> headers) =>
        headers.TryGetValue("traceparent", out var tp) && tp.Length >= 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-'
            ? (tp.Substring(3, 32), tp.Substring(36, 16))
            : null;
}
