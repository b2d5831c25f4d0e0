using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>
/// `micro api` as a real process in front of real greeter and subscriber processes, called with a real HTTP
/// client and a real WebSocket: the README's fourth terminal.
/// </summary>
[Collection(ProcessesLane.Name)]
public sealed class GatewayProcessTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    // The wait for the cluster is generous: on a busy 2-core machine a process can take more than the default 5 s to join.
    private static ProcessRunner StartApi(int httpPort, string seed, int timeoutSeconds = 30) =>
        ProcessRunner.Start("dotnet", [ProcessRunner.Built("Micro.Actors.Cli", "micro.dll"), "api", "--port", $"{httpPort}", "--seed", seed, "--timeout", $"{timeoutSeconds}"]);

    [Fact]
    public async Task The_gateway_process_calls_streams_and_publishes_into_the_cluster_and_answers_503_or_404_when_the_service_is_gone()
    {
        var (greeterPort, httpPort) = (TestCluster.FreePort(), TestCluster.FreePort());
        var seed = $"127.0.0.1:{greeterPort}";
        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{greeterPort}");
        await greeter.WaitForLogAsync("is Up in cluster", Startup);
        using var subscriber = ProcessRunner.StartSample("subscriber", "--topic", "ticks", "--port", "0", "--seed", seed);
        await subscriber.WaitForLogAsync("is Up in cluster", Startup);
        using var api = StartApi(httpPort, seed);
        await api.WaitForLogAsync("micro api: listening on", Startup);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(20) };
        async Task<(HttpStatusCode Status, JsonElement Body)> Post(string path, string json)
        {
            using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
            return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
        }

        var hello = await Post("/greeter/Greeter.Hello", """{"name":"Ann"}""");
        Assert.Equal(HttpStatusCode.OK, hello.Status);
        Assert.Equal("Hello Ann", hello.Body.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await Post("/greeter/Greeter.Audit", """{"who":"ann","what":"logged in"}""")).Status);

        var events = await (await http.PostAsync("/greeter/Greeter.Count", new StringContent("""{"to":3}"""))).Content.ReadAsStringAsync();
        Assert.Equal(["data: {\"n\":1}", "data: {\"n\":2}", "data: {\"n\":3}", "event: end", "data: {}"], events.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        using (var chat = new ClientWebSocket())
        {
            await chat.ConnectAsync(new Uri($"ws://127.0.0.1:{httpPort}/greeter/Greeter.Chat"), default);
            await chat.SendAsync("""{"text":"hi"}"""u8.ToArray(), WebSocketMessageType.Text, true, default);
            var buffer = new byte[4096];
            var reply = await chat.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
            Assert.Equal("""{"text":"you said: hi"}""", Encoding.UTF8.GetString(buffer, 0, reply.Count));
            await chat.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", default);
            var close = await chat.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, close.CloseStatus);
        }

        var published = await Post("/events/ticks", """{"number":7,"text":"from curl"}""");
        Assert.True(published.Status == HttpStatusCode.Accepted, published.Body.ToString());
        await subscriber.WaitForOutputAsync("event 7 from curl", Startup);

        var openapi = JsonDocument.Parse(await http.GetStringAsync("/openapi.json")).RootElement;
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/greeter/Greeter.Hello", out _));
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/events/ticks", out _));

        // The greeter killed: the gateway answers for it (503 while it is unreachable, 404 once it is gone), never hangs.
        greeter.Kill();
        await Eventually.TrueAsync(() => greeter.IsGone(), TimeSpan.FromSeconds(10), "the greeter process to be gone");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var gone = await Post("/greeter/Greeter.Hello", """{"name":"Ann"}""");
        Assert.True(gone.Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotFound or HttpStatusCode.GatewayTimeout, $"{gone.Status} {gone.Body}");
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Equal("application/problem+json", (await http.PostAsync("/greeter/Greeter.Hello", new StringContent("{}"))).Content.Headers.ContentType?.MediaType);

        // Ended by a signal, the gateway stops by itself (and leaves the cluster).
        api.Terminate();
        Assert.Equal(0, await api.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(api.IsGone());
        Assert.Contains(api.Stderr, l => l.Contains("micro api: stopped"));
    }

    [Fact]
    public async Task A_gateway_that_cannot_reach_its_seed_exits_6_naming_it_and_a_port_in_use_exits_2()
    {
        var (deadPort, httpPort) = (TestCluster.FreePort(), TestCluster.FreePort());
        using var lost = StartApi(httpPort, $"127.0.0.1:{deadPort}", timeoutSeconds: 2);
        Assert.Equal(6, await lost.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(lost.Stderr, l => l.Contains($"127.0.0.1:{deadPort}") && l.Contains("cannot reach the cluster"));

        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var taken = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{deadPort}");
        await greeter.WaitForLogAsync("is Up in cluster", Startup);
        using var clash = StartApi(taken, $"127.0.0.1:{deadPort}");
        Assert.Equal(2, await clash.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(clash.Stderr, l => l.Contains("is in use: choose another --port"));
    }
}
