using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Micro.Actors.Errors;

namespace Micro.Actors.Observability;

/// <summary>
/// OpenTelemetry's semantic conventions for RPC and messaging, as Micro.Actors emits them: the stable RPC
/// names (<c>rpc.system.name</c>, <c>rpc.method</c> as <c>Service/Method</c>, <c>rpc.response.status_code</c>,
/// <c>error.type</c>) and, unless <c>OTEL_SEMCONV_STABILITY_OPT_IN</c> lists <c>rpc</c> (without <c>rpc/dup</c>),
/// also the older <c>rpc.system</c> and <c>rpc.service</c> that many dashboards still read.
/// </summary>
internal static class Conventions
{
    public const string System = "micro.actors";

    /// <summary>Whether the older RPC names go along with the stable ones.</summary>
    public static readonly bool OlderNames = OlderNamesFor(Environment.GetEnvironmentVariable("OTEL_SEMCONV_STABILITY_OPT_IN"));

    internal static bool OlderNamesFor(string? optIn)
    {
        var values = (optIn ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return values.Contains("rpc/dup") || !values.Contains("rpc");
    }

    private static readonly ConcurrentDictionary<string, string> Methods = new(StringComparer.Ordinal);

    /// <summary><c>rpc.method</c>: <c>Service/Method</c>, from an endpoint <c>Group.Method</c> (made once per endpoint, not per call).</summary>
    public static string RpcMethod(string endpoint) =>
        Methods.TryGetValue(endpoint, out var method) ? method
        : Methods.Count < 4096 ? Methods.GetOrAdd(endpoint, MethodOf) // a bound: the names come from code, but a caller's typos should not grow it for ever
        : MethodOf(endpoint);

    private static string MethodOf(string endpoint) =>
        endpoint.IndexOf('.') is var dot and > 0 ? string.Concat(endpoint.AsSpan(0, dot), "/", endpoint.AsSpan(dot + 1)) : endpoint;

    /// <summary>A call's code as <c>rpc.response.status_code</c>: HTTP-style, 200 when it succeeded.</summary>
    public static string Code(MicroError? error) => error is null ? "200" : error.Code.ToString(CultureInfo.InvariantCulture);

    public static void DescribeCall(Activity activity, string service, string endpoint)
    {
        activity.SetTag("rpc.system.name", System);
        activity.SetTag("rpc.method", RpcMethod(endpoint));
        activity.SetTag("micro.service", service);
        if (!OlderNames) return;
        var dot = endpoint.IndexOf('.');
        activity.SetTag("rpc.system", System);
        activity.SetTag("rpc.service", dot > 0 ? endpoint[..dot] : endpoint);
    }

    public static void DescribeEvent(Activity activity, string topic, string operationType, string operationName)
    {
        activity.SetTag("messaging.system", System);
        activity.SetTag("messaging.destination.name", topic);
        activity.SetTag("messaging.operation.type", operationType);
        activity.SetTag("messaging.operation.name", operationName);
    }

    /// <summary>The end of a call's span: its code, and the error status when it failed.</summary>
    public static void Ended(Activity? activity, MicroError? error)
    {
        if (activity is null) return;
        activity.SetTag("rpc.response.status_code", Code(error));
        if (error is null) return;
        activity.SetStatus(ActivityStatusCode.Error, error.Detail);
        activity.SetTag("error.type", Code(error));
    }

    /// <summary>A stream's items each way, and whether the caller stopped it before its end.</summary>
    public static void Streamed(Activity activity, Streaming.StreamCount stream, bool finished)
    {
        activity.SetTag("micro.stream.sent", stream.Sent);
        activity.SetTag("micro.stream.received", stream.Received);
        if (!finished) activity.SetTag("micro.stream.cancelled", true);
    }

    /// <summary>The tags of a call's duration.</summary>
    public static TagList CallTags(string service, string endpoint, MicroError? error)
    {
        var tags = new TagList
        {
            { "rpc.system.name", System },
            { "rpc.method", RpcMethod(endpoint) },
            { "micro.service", service },
            { "rpc.response.status_code", Code(error) },
        };
        if (error is not null) tags.Add("error.type", Code(error));
        return tags;
    }

    /// <summary>An event's failure as <c>error.type</c> (its code, or the exception's type), marked on its span.</summary>
    public static string Failed(Activity? activity, Exception e)
    {
        var type = e is MicroException m ? Code(m.Error) : e.GetType().Name;
        activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        activity?.SetTag("error.type", type);
        return type;
    }

    /// <summary>The tags of an event's count or duration.</summary>
    public static TagList EventTags(string topic, string operationName, string? queue, string? failed)
    {
        var tags = new TagList { { "messaging.system", System }, { "messaging.destination.name", topic }, { "messaging.operation.name", operationName } };
        if (queue is not null) tags.Add("messaging.consumer.group.name", queue);
        if (failed is not null) tags.Add("error.type", failed);
        return tags;
    }
}
