using System.Text.Json;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Codec;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Service;
using Micro.Actors.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// The gateway's requests: each reads what the caller asks (checked before the cluster is touched), makes
/// the call with the JSON codec, and answers with the reply or the error as problem details. The cluster
/// work is the client's (selection, retries, deadlines); this class only translates.
/// </summary>
internal sealed partial class MicroApi(IClient client, IRegistry registry, MicroService node, IOptions<MicroApiOptions> settings, ILogger<MicroApi> log)
{
    public const string NdJson = "application/x-ndjson";
    public const string EventStream = "text/event-stream";

    private readonly MicroApiOptions _options = settings.Value;

    /// <summary>The largest body or message the gateway reads.</summary>
    public int MaxBodyBytes => _options.MaxBodyBytes ?? node.Settings.MaxPayloadBytes;

    /// <summary><c>POST /{service}/{endpoint}</c>: a call (200 with the reply), a one-way message (202) or a server stream (SSE or NDJSON).</summary>
    public Task CallAsync(HttpContext context) => Guarded(context, async () =>
    {
        var (service, endpoint) = Target(context);
        var options = CallOptionsOf(context);
        var body = await ReadJsonAsync(context).ConfigureAwait(false);
        var info = await EndpointAsync(service, endpoint, context.RequestAborted).ConfigureAwait(false);
        switch (info)
        {
            case { Stream: StreamKind.Server }:
                await StreamResponse.WriteAsync(context, client.StreamAsync<byte[]>(service, endpoint, body, options, context.RequestAborted)).ConfigureAwait(false);
                return;
            case { Stream: { } kind }:
                throw MicroError.BadRequest(GatewayRequest.Id, $"{service} {endpoint} is a {StreamResponse.Describe(kind)} stream: open a WebSocket to " +
                    $"{(context.Request.IsHttps ? "wss" : "ws")}://{context.Request.Host}{context.Request.PathBase}{context.Request.Path} and send each request as a message").ToException();
            case { ResponseType: null }:
                await client.TellAsync(service, endpoint, body, options, context.RequestAborted).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                await context.Response.WriteAsJsonAsync(new { service, endpoint, accepted = true }, context.RequestAborted).ConfigureAwait(false);
                return;
            default: // a call, or an endpoint the registry does not know: the client says what is wrong with it
                var reply = await client.CallAsync<byte[]>(service, endpoint, body, options, context.RequestAborted).ConfigureAwait(false);
                context.Response.ContentType = JsonCodec.MediaType;
                context.Response.ContentLength = reply.Length;
                await context.Response.Body.WriteAsync(reply, context.RequestAborted).ConfigureAwait(false);
                return;
        }
    });

    /// <summary><c>GET /{service}/{endpoint}</c> with a WebSocket upgrade: a client, bidirectional (or server) stream, one JSON message per item.</summary>
    public Task StreamSocketAsync(HttpContext context) => Guarded(context, async () =>
    {
        var (service, endpoint) = Target(context);
        var options = CallOptionsOf(context);
        var info = await EndpointAsync(service, endpoint, context.RequestAborted).ConfigureAwait(false)
            ?? throw (await NotFoundAsync(service, endpoint, context.RequestAborted).ConfigureAwait(false)).ToException();
        if (info.Stream is not { } kind)
            throw MicroError.BadRequest(GatewayRequest.Id, $"{service} {endpoint} is not a stream: POST the request to {context.Request.Path}").ToException();
        if (!context.WebSockets.IsWebSocketRequest)
            throw MicroError.BadRequest(GatewayRequest.Id, $"{service} {endpoint} is a {StreamResponse.Describe(kind)} stream: open a WebSocket " +
                "(GET with Upgrade: websocket) and send each request as a JSON message").ToException();
        using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        await new SocketStream(socket, MaxBodyBytes, context.RequestAborted).RunAsync(client, service, endpoint, kind, options).ConfigureAwait(false);
    });

    /// <summary><c>POST /events/{topic}[?type=T]</c>: publishes the body (202); 404 when nobody subscribes, 400 for a type nobody takes.</summary>
    public Task PublishAsync(HttpContext context) => Guarded(context, async () =>
    {
        var topic = (string)context.Request.RouteValues["topic"]!;
        var metadata = GatewayRequest.Metadata(context.Request.Headers, _options);
        var body = await ReadJsonAsync(context).ConfigureAwait(false);
        var takes = await SubscribedTypesAsync(topic, context.RequestAborted).ConfigureAwait(false);
        var raw = takes.Remove(typeof(byte[]).FullName!); // a raw subscriber takes any type
        if (takes.Count == 0 && !raw)
            throw MicroError.NotFound(GatewayRequest.Id, $"nobody subscribes to {topic}: the event would reach no one (GET /openapi.json lists the topics that have subscribers)").ToException();
        var asked = context.Request.Query["type"].ToString();
        var type = asked.Length == 0
            ? takes.Count switch
            {
                0 => null,
                1 => takes[0],
                _ => throw MicroError.BadRequest(GatewayRequest.Id, $"subscribers of {topic} take several types: say which with ?type= (one of {Names(takes)})").ToException(),
            }
            : takes.FirstOrDefault(t => t == asked || ShortName(t) == asked) ?? (raw ? asked : null)
              ?? throw MicroError.BadRequest(GatewayRequest.Id, $"no subscriber of {topic} takes {asked}; they take: {Names(takes)} (?type=)").ToException();
        await client.PublishAsync(topic, body, new PublishOptions
        {
            ContentType = JsonCodec.MediaType,
            MessageType = type,
            Headers = metadata,
            WaitForSubscribers = _options.PublishWait, // the registry lists them; pub/sub may learn of them a gossip later
        }, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new { topic, type = type is null ? null : ShortName(type), published = true }, context.RequestAborted).ConfigureAwait(false);

        static string Names(IEnumerable<string> types) => string.Join(", ", types.Select(ShortName).Order(StringComparer.Ordinal));
    });

    /// <summary><c>GET /openapi.json</c>: an OpenAPI 3 document of every endpoint and topic the registry knows now.</summary>
    public Task OpenApiAsync(HttpContext context) => Guarded(context, async () =>
    {
        var services = await ServicesAsync(context.RequestAborted).ConfigureAwait(false);
        var request = context.Request;
        var prefix = request.Path.Value is { } path && path.EndsWith("/openapi.json", StringComparison.Ordinal) ? path[..^"/openapi.json".Length] : "";
        var document = OpenApi.Build(services, $"{request.Scheme}://{request.Host}{request.PathBase}{prefix}", typeof(MicroApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), context.RequestAborted).ConfigureAwait(false);
    });

    private static (string Service, string Endpoint) Target(HttpContext context) =>
        ((string)context.Request.RouteValues["service"]!, (string)context.Request.RouteValues["endpoint"]!);

    private CallOptions CallOptionsOf(HttpContext context)
    {
        var timeout = GatewayRequest.Timeout(context.Request.Headers, _options, out var error);
        if (error is not null) throw error.ToException();
        return new CallOptions { ContentType = JsonCodec.MediaType, Timeout = timeout, Headers = GatewayRequest.Metadata(context.Request.Headers, _options) };
    }

    /// <summary>The body, at most <see cref="MaxBodyBytes"/> (413 beyond, before or while reading), checked to be JSON (400); none is <c>{}</c>.</summary>
    private async Task<byte[]> ReadJsonAsync(HttpContext context)
    {
        var limit = MaxBodyBytes;
        var request = context.Request;
        if (request.ContentLength > limit) throw TooLarge(request.ContentLength.Value, limit);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max) max.MaxRequestBodySize = limit; // Kestrel stops a chunked body too
        using var buffer = new MemoryStream();
        var chunk = new byte[Math.Min(limit + 1, 16 * 1024)];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(buffer.Length + read, limit);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) return "{}"u8.ToArray();
        var body = buffer.ToArray();
        if (JsonProblem(body) is { } problem)
            throw MicroError.BadRequest(GatewayRequest.Id, $"the body is not JSON ({problem}): send the request as a JSON object").ToException();
        return body;

        static MicroException TooLarge(long size, int limit) => MicroError.New(GatewayRequest.Id, 413,
            $"the body is {(size > limit + 1 ? $"{size} bytes" : "over the limit")}; this gateway takes at most {limit} bytes (the cluster's frame limit: send less)").ToException();
    }

    /// <summary>Null when <paramref name="json"/> is one well-formed JSON value; else the parser's first sentence.</summary>
    internal static string? JsonProblem(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read()) { }
            return null;
        }
        catch (JsonException e) { return e.Message.Split(". ")[0].TrimEnd('.'); }
    }

    private async Task<EndpointInfo?> EndpointAsync(string service, string endpoint, CancellationToken ct) =>
        (await registry.GetServiceAsync(service, ct).ConfigureAwait(false))?.Nodes.SelectMany(n => n.Endpoints).FirstOrDefault(e => e.Name == endpoint);

    private async Task<MicroError> NotFoundAsync(string service, string endpoint, CancellationToken ct)
    {
        if (await registry.GetServiceAsync(service, ct).ConfigureAwait(false) is not { } found)
            return MicroError.NotFound(GatewayRequest.Id, $"service '{service}' is not in the registry (GET /openapi.json lists what is)");
        var names = found.Nodes.SelectMany(n => n.Endpoints).Select(e => e.Name).Distinct().Order(StringComparer.Ordinal);
        return MicroError.NotFound(GatewayRequest.Id, $"{service} has no endpoint {endpoint}; it has: {string.Join(", ", names)}");
    }

    private async Task<IReadOnlyList<ServiceInfo>> ServicesAsync(CancellationToken ct)
    {
        var found = await Task.WhenAll((await registry.ListServicesAsync(ct).ConfigureAwait(false)).Select(s => registry.GetServiceAsync(s.Name, ct))).ConfigureAwait(false);
        return found.OfType<ServiceInfo>().ToList();
    }

    private async Task<List<string>> SubscribedTypesAsync(string topic, CancellationToken ct) =>
        (await ServicesAsync(ct).ConfigureAwait(false)).SelectMany(s => s.Nodes).SelectMany(n => n.Subscriptions)
            .Where(s => s.Topic == topic).Select(s => s.MessageType).Distinct().ToList();

    internal static string ShortName(string typeName) => typeName[(typeName.LastIndexOfAny(['.', '+']) + 1)..];

    /// <summary>
    /// Runs one request: the key check first; a <see cref="MicroException"/> becomes its problem details; a
    /// caller that went away ends quietly; anything else is the gateway's own 500, logged under an error id.
    /// </summary>
    private async Task Guarded(HttpContext context, Func<Task> handle)
    {
        try
        {
            if (GatewayRequest.Refusal(context.Request, _options) is { } refused) throw refused.ToException();
            await handle().ConfigureAwait(false);
        }
        catch (MicroException e) { await ProblemAsync(context, e.Error).ConfigureAwait(false); }
        catch (BadHttpRequestException e) // Kestrel's: a body over the limit (413), one arriving too slowly (408)
        {
            await ProblemAsync(context, MicroError.New(GatewayRequest.Id, e.StatusCode, e.StatusCode == 413
                ? $"the body is over the limit; this gateway takes at most {MaxBodyBytes} bytes (the cluster's frame limit: send less)"
                : $"the request could not be read: {e.Message}")).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { } // the caller left; the call was cancelled with it
        catch (Exception e)
        {
            var id = Guid.NewGuid().ToString("N")[..12];
            LogFailure(log, e, context.Request.Method, context.Request.Path, id);
            await ProblemAsync(context, MicroError.New(GatewayRequest.Id, 500, _options.ShowExceptionDetails
                ? $"the gateway failed (error id {id}): {e.GetType().Name}: {e.Message}"
                : $"the gateway failed (error id {id}); its log has the details")).ConfigureAwait(false);
        }
    }

    private static async Task ProblemAsync(HttpContext context, MicroError error)
    {
        if (context.Response.HasStarted) return; // a stream already running reports its errors in its own form
        var details = MicroProblemDetails.From(error, context.Request.Path);
        if (error.Id == GatewayRequest.Id) (details.Status, details.Title) = (error.Code, error.Status); // the gateway's own answer: its status as it is
        context.Response.StatusCode = details.Status!.Value;
        await Results.Problem(details).ExecuteAsync(context).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The gateway failed on {Method} {Path} (error id {ErrorId})")]
    private static partial void LogFailure(ILogger logger, Exception exception, string method, string path, string errorId);
}
