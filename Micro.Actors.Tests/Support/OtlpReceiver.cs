using System.Collections.Concurrent;
using System.Net;
using Micro.Actors.Tests.Otlp;

namespace Micro.Actors.Tests.Support;

/// <summary>One span as an OTLP exporter sent it, with the service (<c>service.name</c>) of the process that made it.</summary>
public sealed record ReceivedSpan(string Service, Span Span)
{
    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);
    public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);
    public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);
    public string Name => Span.Name;
    public Span.Types.SpanKind Kind => Span.Kind;
    public bool Failed => Span.Status?.Code == Status.Types.StatusCode.Error;

    public object? this[string attribute] => Span.Attributes.FirstOrDefault(a => a.Key == attribute)?.Value is { } v ? Value(v) : null;

    public static object? Value(AnyValue v) => v.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => v.StringValue,
        AnyValue.ValueOneofCase.IntValue => v.IntValue,
        AnyValue.ValueOneofCase.BoolValue => v.BoolValue,
        AnyValue.ValueOneofCase.DoubleValue => v.DoubleValue,
        _ => null,
    };

    public override string ToString() => $"{Service}: {Kind} {Name} {SpanId} (parent {ParentSpanId}) {(Failed ? "failed" : "")}";
}

/// <summary>
/// A real OTLP/HTTP endpoint (protobuf, <c>/v1/traces</c>) on 127.0.0.1 in the test process: what the sample
/// processes export to with <see cref="Environment"/>, OpenTelemetry's own settings.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly Task _serving;

    public OtlpReceiver()
    {
        Port = TestCluster.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public IReadOnlyList<ReceivedSpan> Spans => _spans.ToArray();

    /// <summary>A process exports its spans here, in batches 200 ms apart.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["Telemetry__Exporter"] = "otlp",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{Port}",
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try
            {
                if (context.Request.Url?.AbsolutePath == "/v1/traces")
                {
                    var request = ExportTraceServiceRequest.Parser.ParseFrom(context.Request.InputStream);
                    foreach (var resource in request.ResourceSpans)
                    {
                        var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                        foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans)) _spans.Enqueue(new ReceivedSpan(service, span));
                    }
                }
                context.Response.StatusCode = 200; // metrics are taken and dropped
                context.Response.ContentType = "application/x-protobuf";
            }
            catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException)
            {
                context.Response.StatusCode = 400;
            }
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
