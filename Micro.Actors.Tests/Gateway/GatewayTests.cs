using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Micro.Actors.AspNetCore;
using Micro.Actors.AspNetCore.Gateway;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi.Readers;

namespace Micro.Actors.Tests.Gateway;

public sealed record Say(string Text);
public sealed record Said(string Text, Dictionary<string, string> Metadata);
public sealed record Fail(int Code, string Why);
public sealed record Delay(int Milliseconds);
public sealed record Upto(int To);
public sealed record Item(int N);
public sealed record Number(int Value);
public sealed record Total(int Sum, int Count);
public sealed record OrderPlaced(string Id);
public sealed record OrderCancelled(string Id);

/// <summary>
/// The gateway (<c>MapMicroApi</c>) on a real Kestrel port in front of a real cluster, called with real HTTP and
/// WebSocket clients: every kind of endpoint, every error's status, metadata, limits, publish, the OpenAPI document.
/// </summary>
public sealed class GatewayTests(GatewayTests.Gateway gateway) : IClassFixture<GatewayTests.Gateway>
{
    public const int Limit = 4096;

    public sealed class Gateway : IAsyncLifetime
    {
        public TestCluster Cluster { get; } = new();
        public WebApplication App { get; private set; } = null!;
        public Uri Base { get; private set; } = null!;
        public HttpClient Http { get; private set; } = null!;
        public ConcurrentQueue<string> Notes { get; } = new();
        public ConcurrentQueue<string> Orders { get; } = new();

        public async Task InitializeAsync()
        {
            await Cluster.StartServiceAsync("shop", s => s
                .Handle<Say, Said>("Shop.Echo", (r, ctx) => Task.FromResult(new Said(r.Text, ctx.Headers.ToDictionary())))
                .Handle<Fail, Said>("Shop.Fail", (r, _) => r.Code == 0
                    ? throw new InvalidOperationException(r.Why)
                    : throw MicroError.New("shop", r.Code, r.Why).ToException())
                .Handle<Delay, Said>("Shop.Slow", async (r, ctx) =>
                {
                    await Task.Delay(r.Milliseconds, ctx.Cancellation);
                    return new Said("slow", []);
                })
                .Handle<Say>("Shop.Note", (r, _) =>
                {
                    Notes.Enqueue(r.Text);
                    return Task.CompletedTask;
                })
                .HandleServerStream<Upto, Item>("Shop.Count", Count)
                .HandleClientStream<Number, Total>("Shop.Sum", async (numbers, ctx) =>
                {
                    var (sum, count) = (0, 0);
                    await foreach (var n in numbers.WithCancellation(ctx.Cancellation)) (sum, count) = (sum + n.Value, count + 1);
                    return new Total(sum, count);
                })
                .HandleBidiStream<Say, Say>("Shop.Chat", Chat)
                .Subscribe<OrderPlaced>("orders", (e, _) =>
                {
                    Orders.Enqueue(e.Id);
                    return Task.CompletedTask;
                })
                .Subscribe<OrderPlaced>("mixed", (_, _) => Task.CompletedTask)
                .Subscribe<OrderCancelled>("mixed", (_, _) => Task.CompletedTask));

            (App, Base) = await StartGatewayAsync(Cluster, o =>
            {
                o.MaxBodyBytes = Limit;
                o.MetadataHeaders = ["X-Request-Id"];
            });
            Http = new HttpClient { BaseAddress = Base, Timeout = TimeSpan.FromSeconds(30) };
        }

        public async Task DisposeAsync()
        {
            Http.Dispose();
            await App.StopAsync();
            await App.DisposeAsync();
            await Cluster.DisposeAsync();
        }

        private static async IAsyncEnumerable<Item> Count(Upto r, Micro.Actors.Server.RequestContext ctx)
        {
            if (r.To < 0) throw MicroError.BadRequest("shop", $"cannot count to {r.To}").ToException();
            for (var n = 1; n <= r.To; n++)
            {
                if (n == 3 && r.To == 99) throw MicroError.ServiceUnavailable("shop", "ran out after 2").ToException();
                yield return new Item(n);
                await Task.Yield();
            }
        }

        private static async IAsyncEnumerable<Say> Chat(IAsyncEnumerable<Say> lines, Micro.Actors.Server.RequestContext ctx)
        {
            await foreach (var line in lines.WithCancellation(ctx.Cancellation)) yield return new Say("you said: " + line.Text);
        }
    }

    /// <summary>A web app on a free port: a client-only node of <paramref name="cluster"/> with the gateway mapped at / and the dashboard at /ui.</summary>
    public static async Task<(WebApplication App, Uri Base)> StartGatewayAsync(TestCluster cluster, Action<MicroApiOptions> configure, Action<MicroServiceOptions>? node = null)
    {
        var port = TestCluster.FreePort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        builder.Services.AddMicroClient(TestHost.In(cluster, node));
        builder.Services.AddMicroApi(configure);
        var app = builder.Build();
        app.UseWebSockets();
        app.MapMicroApi();
        app.MapMicroDashboard("/ui");
        await app.StartAsync();
        var started = app.Services.GetRequiredService<MicroService>();
        await started.WhenReadyAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await TestCluster.WaitForNodesAsync(started, "shop", 1);
        return (app, new Uri($"http://127.0.0.1:{port}"));
    }

    private HttpClient Http => gateway.Http;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<(HttpStatusCode Status, JsonElement Body, string? Type)> Post(string path, string json, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    private static void IsProblem((HttpStatusCode Status, JsonElement Body, string? Type) answer, HttpStatusCode status, int code, string detail)
    {
        Assert.True(answer.Status == status, $"{answer.Status} {answer.Body}");
        Assert.Equal("application/problem+json", answer.Type);
        Assert.Equal((int)status, answer.Body.GetProperty("status").GetInt32());
        Assert.Equal(code, answer.Body.GetProperty("code").GetInt32());
        Assert.True(answer.Body.GetProperty("detail").GetString()!.Contains(detail, StringComparison.Ordinal), $"\"{detail}\" is not in: {answer.Body}");
    }

    [Fact]
    public async Task A_call_answers_with_the_reply_and_micro_and_configured_headers_travel_as_metadata()
    {
        var answer = await Post("/shop/Shop.Echo", """{"text":"hi"}""",
            ("Micro-Tenant", "acme"), ("micro-lower", "x"), ("X-Request-Id", "r-1"), ("X-Other", "no"), ("Micro-Timeout", "5s"));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("application/json", answer.Type);
        Assert.Equal("hi", answer.Body.GetProperty("text").GetString());
        var metadata = answer.Body.GetProperty("metadata");
        Assert.Equal("acme", metadata.GetProperty("Micro-Tenant").GetString());
        Assert.Equal("x", metadata.GetProperty("Micro-Lower").GetString());
        Assert.Equal("r-1", metadata.GetProperty("X-Request-Id").GetString());
        Assert.False(metadata.TryGetProperty("X-Other", out _));
        Assert.False(metadata.TryGetProperty("Micro-Timeout", out _));

        var empty = await Post("/shop/Shop.Echo", "");
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status); // {} has no text: the service says so
        Assert.Equal(400, empty.Body.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task A_one_way_endpoint_answers_202_and_its_message_arrives()
    {
        var answer = await Post("/shop/Shop.Note", """{"text":"remember me"}""");
        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.True(answer.Body.GetProperty("accepted").GetBoolean());
        await Eventually.TrueAsync(() => gateway.Notes.Contains("remember me"), TimeSpan.FromSeconds(10), "the note to arrive");
    }

    [Fact]
    public async Task Every_error_has_its_status_as_problem_details()
    {
        IsProblem(await Post("/shop/Shop.Echo", """{"text": """), HttpStatusCode.BadRequest, 400, "the body is not JSON");
        IsProblem(await Post("/shop/Shop.Echo", """{"text": 5}"""), HttpStatusCode.BadRequest, 400, "Say");
        IsProblem(await Post("/nosuch/Any.Thing", "{}"), HttpStatusCode.NotFound, 404, "nosuch");
        IsProblem(await Post("/shop/Shop.Nothing", "{}"), HttpStatusCode.NotFound, 404, "Shop.Nothing");
        IsProblem(await Post("/shop/Shop.Fail", """{"code":500,"why":"the database is down"}"""), HttpStatusCode.BadGateway, 500, "the database is down");
        IsProblem(await Post("/shop/Shop.Fail", """{"code":503,"why":"busy"}"""), HttpStatusCode.ServiceUnavailable, 503, "busy");
        IsProblem(await Post("/shop/Shop.Fail", """{"code":409,"why":"taken"}"""), HttpStatusCode.Conflict, 409, "taken");
        IsProblem(await Post("/shop/Shop.Echo", "{}", ("Micro-Timeout", "soon")), HttpStatusCode.BadRequest, 400, "Micro-Timeout 'soon' is not a duration");
        IsProblem(await Post("/shop/Shop.Echo", "{}", ("Micro-Timeout", "1h")), HttpStatusCode.BadRequest, 400, "longer than this gateway allows");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        IsProblem(await Post("/shop/Shop.Slow", """{"milliseconds":5000}""", ("Micro-Timeout", "300ms")), HttpStatusCode.GatewayTimeout, 408, "did not answer within 0.3 s");
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));

        var big = """{"text":"AAA""" + new string('A', Limit) + "\"}";
        IsProblem(await Post("/shop/Shop.Echo", big), HttpStatusCode.RequestEntityTooLarge, 413, $"at most {Limit} bytes");
        // Without a length up front (chunked), the limit holds while reading.
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Echo") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) };
        chunked.Headers.TransferEncodingChunked = true;
        using var response = await Http.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);

        // The service is unharmed.
        Assert.Equal(HttpStatusCode.OK, (await Post("/shop/Shop.Echo", """{"text":"still here"}""")).Status);
    }

    [Fact]
    public async Task A_server_stream_comes_as_server_sent_events_or_ndjson_and_its_errors_are_told()
    {
        using var sse = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Count") { Content = Json("""{"to":3}""") };
        sse.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var events = await Http.SendAsync(sse, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", events.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["data: {\"n\":1}", "data: {\"n\":2}", "data: {\"n\":3}", "event: end", "data: {}"], await Lines(events));

        using var nd = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Count") { Content = Json("""{"to":2}""") };
        nd.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var lines = await Http.SendAsync(nd, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("application/x-ndjson", lines.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["{\"n\":1}", "{\"n\":2}"], await Lines(lines));

        // A stream that cannot start answers with its status; one that fails later ends with an error event.
        IsProblem(await Post("/shop/Shop.Count", """{"to":-1}"""), HttpStatusCode.BadRequest, 400, "cannot count to -1");
        using var failing = await Http.PostAsync("/shop/Shop.Count", Json("""{"to":99}"""));
        var told = await Lines(failing);
        Assert.Equal(["data: {\"n\":1}", "data: {\"n\":2}", "event: error"], told.Take(3));
        Assert.Contains("ran out after 2", told[3]);

        // A client or bidirectional stream is not a POST: the answer says where to open the WebSocket.
        IsProblem(await Post("/shop/Shop.Chat", "{}"), HttpStatusCode.BadRequest, 400, $"open a WebSocket to ws://{Http.BaseAddress!.Authority}/shop/Shop.Chat");

        static async Task<string[]> Lines(HttpResponseMessage response) =>
            (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private Uri Socket(string path) => new($"ws://{gateway.Base.Authority}{path}");

    private static async Task<(List<string> Messages, WebSocketCloseStatus? Status, string? Reason)> ReadAll(ClientWebSocket socket)
    {
        var messages = new List<string>();
        var buffer = new byte[64 * 1024];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, deadline.Token);
            if (result.MessageType == WebSocketMessageType.Close) return (messages, result.CloseStatus, result.CloseStatusDescription);
            Assert.True(result.EndOfMessage);
            messages.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
    }

    private static Task Send(ClientWebSocket socket, string json) => socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, default);

    [Fact]
    public async Task Client_and_bidirectional_streams_run_over_a_websocket_and_end_with_a_close_that_says_how()
    {
        using (var chat = new ClientWebSocket())
        {
            await chat.ConnectAsync(Socket("/shop/Shop.Chat"), default);
            foreach (var text in new[] { "one", "two", "three" }) await Send(chat, $$"""{"text":"{{text}}"}""");
            await chat.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "that is all", default); // the requests end; the replies still come
            var (messages, status, _) = await ReadAll(chat);
            Assert.Equal(["""{"text":"you said: one"}""", """{"text":"you said: two"}""", """{"text":"you said: three"}"""], messages);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        }

        using (var sum = new ClientWebSocket())
        {
            await sum.ConnectAsync(Socket("/shop/Shop.Sum"), default);
            for (var n = 1; n <= 10; n++) await Send(sum, $$"""{"value":{{n}}}""");
            await sum.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", default);
            var (messages, status, _) = await ReadAll(sum);
            Assert.Equal(["""{"sum":55,"count":10}"""], messages);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        }

        using (var bad = new ClientWebSocket())
        {
            await bad.ConnectAsync(Socket("/shop/Shop.Chat"), default);
            await Send(bad, """{"text":"fine"}""");
            await Send(bad, """{"text": oops""");
            var (_, status, reason) = await ReadAll(bad);
            Assert.Equal((WebSocketCloseStatus)4400, status);
            Assert.Contains("message 2 is not JSON", reason);
        }

        using (var large = new ClientWebSocket())
        {
            await large.ConnectAsync(Socket("/shop/Shop.Chat"), default);
            await Send(large, $$"""{"text":"{{new string('x', Limit)}}"}""");
            var (_, status, reason) = await ReadAll(large);
            Assert.Equal((WebSocketCloseStatus)4413, status);
            Assert.Contains($"over {Limit} bytes", reason);
        }

        // What cannot be a WebSocket stream is refused before the upgrade, with its HTTP status.
        foreach (var (path, status) in new[] { ("/shop/Shop.Echo", HttpStatusCode.BadRequest), ("/shop/Shop.Nothing", HttpStatusCode.NotFound), ("/nosuch/X.Y", HttpStatusCode.NotFound) })
        {
            using var refused = new ClientWebSocket();
            refused.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(Socket(path), default));
            Assert.Equal(status, refused.HttpStatusCode);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("/shop/Shop.Chat")).StatusCode); // a GET without the upgrade
    }

    [Fact]
    public async Task Publish_reaches_the_subscriber_and_says_404_for_no_subscriber_and_400_for_an_unknown_or_missing_type()
    {
        var answer = await Post("/events/orders", """{"id":"o-1"}""");
        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal("OrderPlaced", answer.Body.GetProperty("type").GetString());
        await Eventually.TrueAsync(() => gateway.Orders.Contains("o-1"), TimeSpan.FromSeconds(10), "the order event to arrive");

        IsProblem(await Post("/events/nobody-listens", "{}"), HttpStatusCode.NotFound, 404, "nobody subscribes to nobody-listens");
        IsProblem(await Post("/events/mixed", """{"id":"x"}"""), HttpStatusCode.BadRequest, 400, "OrderCancelled, OrderPlaced");
        IsProblem(await Post("/events/mixed?type=Refund", """{"id":"x"}"""), HttpStatusCode.BadRequest, 400, "no subscriber of mixed takes Refund");
        Assert.Equal(HttpStatusCode.Accepted, (await Post("/events/mixed?type=OrderCancelled", """{"id":"x"}""")).Status);
        IsProblem(await Post("/events/orders", "not json"), HttpStatusCode.BadRequest, 400, "the body is not JSON");
    }

    [Fact]
    public async Task The_openapi_document_reads_without_errors_and_lists_every_endpoint_and_topic()
    {
        var json = await Http.GetStringAsync("/openapi.json");
        var document = new OpenApiStringReader().Read(json, out var diagnostic);
        Assert.True(diagnostic.Errors.Count == 0, string.Join("\n", diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.Equal(Http.BaseAddress!.ToString().TrimEnd('/'), document.Servers.Single().Url);
        foreach (var endpoint in new[] { "Echo", "Fail", "Slow", "Note", "Count" })
            Assert.True(document.Paths.ContainsKey($"/shop/Shop.{endpoint}"), $"{endpoint} is missing");
        Assert.Contains(Microsoft.OpenApi.Models.OperationType.Get, document.Paths["/shop/Shop.Chat"].Operations.Keys);
        Assert.Contains(Microsoft.OpenApi.Models.OperationType.Get, document.Paths["/shop/Shop.Sum"].Operations.Keys);
        Assert.Contains("/events/orders", document.Paths.Keys);
        Assert.Contains("/events/mixed", document.Paths.Keys);

        var echo = document.Paths["/shop/Shop.Echo"].Operations[Microsoft.OpenApi.Models.OperationType.Post];
        Assert.Equal("string", echo.RequestBody.Content["application/json"].Schema.Properties["text"].Type);
        Assert.Equal("object", echo.Responses["200"].Content["application/json"].Schema.Properties["metadata"].Type);
        Assert.Contains("202", document.Paths["/shop/Shop.Note"].Operations[Microsoft.OpenApi.Models.OperationType.Post].Responses.Keys);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failure_of_the_gateway_itself_is_a_500_with_an_error_id_and_its_text_only_when_asked(bool show)
    {
        // A bug on the gateway's side of the call: a client wrapper of its node that throws.
        var (app, uri) = await StartGatewayAsync(gateway.Cluster, o => o.ShowExceptionDetails = show, node => node.Wrappers.AddClient((c, next) =>
            c.Headers.ContainsKey("Micro-Break") ? throw new InvalidOperationException("the wrapper broke at /srv/secret") : next(c)));
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = uri };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Echo") { Content = Json("""{"text":"x"}""") };
        request.Headers.Add("Micro-Break", "1");
        using var response = await http.SendAsync(request);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("micro.api", problem.GetProperty("id").GetString());
        Assert.Matches("the gateway failed \\(error id [0-9a-f]{12}\\)", problem.GetProperty("detail").GetString());
        Assert.Contains($"(error id {problem.GetProperty("errorId").GetString()})", problem.GetProperty("detail").GetString());
        Assert.Equal(show, problem.GetProperty("detail").GetString()!.Contains("/srv/secret"));
        // The gateway goes on serving.
        using var fine = await http.PostAsync("/shop/Shop.Echo", Json("""{"text":"fine"}"""));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_handlers_exception_is_a_502_with_the_services_error_id_and_not_its_text()
    {
        var answer = await Post("/shop/Shop.Fail", """{"code":0,"why":"disk /srv/secret is full"}""");
        IsProblem(answer, HttpStatusCode.BadGateway, 500, "Shop.Fail failed on the server (error id ");
        var body = answer.Body;
        Assert.Equal("shop", body.GetProperty("id").GetString());
        // The id under which the service's node logged the exception, readable on its own.
        Assert.Matches("^[0-9a-f]{12}$", body.GetProperty("errorId").GetString());
        Assert.Contains($"(error id {body.GetProperty("errorId").GetString()})", body.GetProperty("detail").GetString());
        Assert.DoesNotContain("/srv/secret", body.ToString());
        Assert.DoesNotContain("InvalidOperationException", body.ToString());
    }

    [Fact]
    public async Task A_header_flood_and_a_slow_body_get_their_status_and_the_gateway_keeps_serving()
    {
        using var flood = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Echo") { Content = Json("{}") };
        for (var i = 0; i < 300; i++) flood.Headers.TryAddWithoutValidation($"Micro-H{i}", new string('v', 200));
        using (var response = await Http.SendAsync(flood))
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);

        // A client that sends its headers, then its body a byte at a time: Kestrel's minimum data rate ends it.
        using (var slow = new TcpClient())
        {
            await slow.ConnectAsync(IPAddress.Loopback, gateway.Base.Port);
            var stream = slow.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /shop/Shop.Echo HTTP/1.1\r\nHost: {gateway.Base.Authority}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"));
            var answer = new StringBuilder();
            var buffer = new byte[4096];
            var reading = stream.ReadAsync(buffer).AsTask();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!reading.IsCompleted && !deadline.IsCancellationRequested)
            {
                try { await stream.WriteAsync(" "u8.ToArray(), deadline.Token); }
                catch (IOException) { break; } // closed by the gateway
                await Task.WhenAny(reading, Task.Delay(1000, deadline.Token));
            }
            var read = await reading.WaitAsync(TimeSpan.FromSeconds(10));
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            Assert.StartsWith("HTTP/1.1 408", answer.ToString());
        }

        Assert.Equal(HttpStatusCode.OK, (await Post("/shop/Shop.Echo", """{"text":"unharmed"}""")).Status);
    }

    [Fact]
    public async Task With_api_keys_a_request_needs_one_of_them()
    {
        var (app, address) = await StartGatewayAsync(gateway.Cluster, o => o.ApiKeys = ["k-one", "k-two"]);
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            async Task<HttpStatusCode> Send(string? scheme, string? header, string? key)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/shop/Shop.Echo") { Content = Json("""{"text":"k"}""") };
                if (scheme is not null) request.Headers.Authorization = new AuthenticationHeaderValue(scheme, key);
                if (header is not null) request.Headers.Add(header, key);
                using var response = await http.SendAsync(request);
                return response.StatusCode;
            }
            Assert.Equal(HttpStatusCode.Unauthorized, await Send(null, null, null));
            Assert.Equal(HttpStatusCode.Forbidden, await Send("Bearer", null, "k-three"));
            Assert.Equal(HttpStatusCode.OK, await Send("Bearer", null, "k-two"));
            Assert.Equal(HttpStatusCode.OK, await Send(null, "X-Api-Key", "k-one"));
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/openapi.json")).StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
