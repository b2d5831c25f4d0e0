using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>The ASP.NET Core sample as a real process, with a real greeter process and a real HTTP client.</summary>
[Collection(ProcessesLane.Name)]
public sealed class WebSampleTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private static ProcessRunner StartWeb(int httpPort, string seed, IReadOnlyDictionary<string, string>? more = null)
    {
        var environment = new Dictionary<string, string> { ["Micro__SeedNodes__0"] = seed, ["Logging__LogLevel__Default"] = "Information" };
        foreach (var (k, v) in more ?? new Dictionary<string, string>()) environment[k] = v;
        return ProcessRunner.Start("dotnet", [ProcessRunner.Built("Micro.Actors.Samples.Web", "Micro.Actors.Samples.Web.dll"), "--urls", $"http://127.0.0.1:{httpPort}"], environment);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, string? Type)> Get(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Polls until the app answers at all (Kestrel listens) and returns what it says.</summary>
    private static async Task<(HttpStatusCode Status, JsonElement Body, string? Type)> FirstAnswer(HttpClient http, string url, ProcessRunner app)
    {
        (HttpStatusCode, JsonElement, string?)? answer = null;
        await Eventually.TrueAsync(async () =>
        {
            if (app.HasExited) throw new InvalidOperationException($"the web app exited:\n{app.Describe()}");
            try { answer = await Get(http, url); return true; }
            catch (HttpRequestException) { return false; }
        }, Startup, $"{url} to answer");
        return answer!.Value;
    }

    [Fact]
    public async Task Readiness_is_503_until_the_app_joins_then_it_calls_the_greeter_and_maps_errors_to_problem_details()
    {
        var (greeterPort, httpPort) = (TestCluster.FreePort(), TestCluster.FreePort());
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(20) };
        // The app first, its seed not there yet: it listens, alive but not ready.
        using var web = StartWeb(httpPort, $"127.0.0.1:{greeterPort}", new Dictionary<string, string>
        {
            ["Micro__StartTimeout"] = "120s",
            ["Micro__Client__RequestTimeout"] = "2s", // the 504 below comes sooner
        });
        var notReady = await FirstAnswer(http, "/health/ready", web);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.Status);
        Assert.Equal("Unhealthy", notReady.Body.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Get(http, "/health/live")).Status);

        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{greeterPort}");
        await Eventually.TrueAsync(async () => (await Get(http, "/health/ready")).Status == HttpStatusCode.OK, Startup, "the app to be ready");

        var hello = await Get(http, "/hello/Ann");
        Assert.Equal(HttpStatusCode.OK, hello.Status);
        Assert.Equal("Hello Ann", hello.Body.GetProperty("message").GetString());
        Assert.Equal($"127.0.0.1:{greeterPort}", hello.Body.GetProperty("node").GetString());

        var bad = await Get(http, "/hello/%20");   // the greeter says 400: the caller's mistake stays 400
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("application/problem+json", bad.Type);
        Assert.Equal("name is empty: say who to greet", bad.Body.GetProperty("detail").GetString());
        Assert.Equal(400, bad.Body.GetProperty("code").GetInt32());

        var late = await Get(http, "/wait/3000");   // past the call's 2 s deadline: 408 becomes the gateway's 504
        Assert.Equal(HttpStatusCode.GatewayTimeout, late.Status);
        Assert.Equal(408, late.Body.GetProperty("code").GetInt32());

        // The calls above, scraped as Prometheus reads them: the RPC conventions' histogram, by method and code.
        var scraped = await http.GetStringAsync("/metrics");
        var lines = scraped.Split('\n');
        var greeted = lines.Where(l => l.Contains("rpc_method=\"Greeter/Hello\"")).ToList();
        Assert.Contains(greeted, l => l.StartsWith("rpc_client_call_duration_seconds_bucket{") && l.Contains("le=\"0.005\""));
        var okCount = Assert.Single(greeted, l => l.StartsWith("rpc_client_call_duration_seconds_count{") && l.Contains("rpc_response_status_code=\"200\""));
        Assert.True(double.Parse(okCount[(okCount.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture) >= 1, okCount);
        Assert.Contains(greeted, l => l.StartsWith("rpc_client_call_duration_seconds_count{") && l.Contains("error_type=\"400\""));

        greeter.Terminate();   // no greeter left: 404 stays 404
        Assert.Equal(0, await greeter.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await Eventually.TrueAsync(async () => (await Get(http, "/hello/Ann")).Status == HttpStatusCode.NotFound, TimeSpan.FromSeconds(30), "404 once the greeter is gone");

        web.Terminate();
        Assert.Equal(0, await web.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(web.IsGone());
    }

    [Fact]
    public async Task SIGTERM_under_HTTP_load_fails_no_request_and_the_app_exits_by_itself()
    {
        var (greeterPort, httpPort) = (TestCluster.FreePort(), TestCluster.FreePort());
        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{greeterPort}");
        await greeter.WaitForLogAsync("is Up in cluster", Startup);
        // The app logs every request it takes and every answer it gives: the server's side of the count.
        using var web = StartWeb(httpPort, $"127.0.0.1:{greeterPort}", new Dictionary<string, string> { ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information" });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.ConnectionClose = true; // a request is accepted or refused, never caught on a closing keep-alive connection
        await Eventually.TrueAsync(async () =>
        {
            try { return (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK; }
            catch (HttpRequestException) { return false; }
        }, Startup, "the app to be ready");

        // Each request waits 300 ms at the greeter, then calls it again: it needs the node after the signal.
        var clock = Stopwatch.StartNew();
        var signalled = long.MaxValue;
        var ok = 0;
        var refused = 0;
        var spanning = 0;
        var failures = new ConcurrentQueue<string>();
        // Ended by the network before the app saw them (checked below against the app's own log).
        var unreached = new ConcurrentQueue<string>();
        using var stopLoad = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var load = Enumerable.Range(0, 16).Select(async _ =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                var sent = clock.ElapsedMilliseconds;
                try
                {
                    using var response = await http.GetAsync("/wait/300");
                    if (response.StatusCode != HttpStatusCode.OK) failures.Enqueue($"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                    else
                    {
                        Interlocked.Increment(ref ok);
                        if (sent < Interlocked.Read(ref signalled)) { if (clock.ElapsedMilliseconds > Interlocked.Read(ref signalled)) Interlocked.Increment(ref spanning); }
                    }
                }
                catch (HttpRequestException e) when (sent > Interlocked.Read(ref signalled) && IsRefusal(e))
                {
                    Interlocked.Increment(ref refused);
                    return; // the app has stopped listening
                }
                catch (HttpRequestException e) when (e.InnerException is IOException or SocketException)
                {
                    unreached.Enqueue($"sent at {sent} ms (signal at {Interlocked.Read(ref signalled)} ms): {e.Message} <- {e.InnerException.Message}");
                    return;
                }
                catch (Exception e)
                {
                    failures.Enqueue($"sent at {sent} ms (signal at {Interlocked.Read(ref signalled)} ms): {e.GetType().Name} " +
                        $"({(e as HttpRequestException)?.HttpRequestError}): {e.Message} <- {e.InnerException?.GetType().Name}: {e.InnerException?.Message} <- {e.InnerException?.InnerException?.Message}");
                    return;
                }
            }
        }).ToList();

        await Task.Delay(TimeSpan.FromSeconds(3)); // load runs
        Interlocked.Exchange(ref signalled, clock.ElapsedMilliseconds);
        web.Terminate();
        var exit = await web.WaitForExitAsync(TimeSpan.FromSeconds(40));
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(failures.IsEmpty, $"{failures.Count} failed request(s):\n{string.Join('\n', failures.Take(10))}\n{web.Describe()}");
        // A connection the kernel reset or refused (a SYN retransmitted past the listener's close, a connection
        // left in the backlog) never reached the app. Every request the app took, it answered with 200, and
        // those answers are exactly the ones the client got: no request that reached the app was lost.
        var took = web.Stdout.Count(l => l.Contains("Request starting", StringComparison.Ordinal) && l.Contains("/wait/300", StringComparison.Ordinal));
        var answered = web.Stdout.Count(l => l.Contains("Request finished", StringComparison.Ordinal) && l.Contains("/wait/300", StringComparison.Ordinal) && l.Contains(" - 200 ", StringComparison.Ordinal));
        output.WriteLine($"ok {ok}, refused after the signal {refused}, ended by the network before the app {unreached.Count}; the app took {took} and answered {answered}");
        Assert.True(took == answered && answered == ok, $"the app took {took} requests and answered {answered} with 200; the client got {ok}; " +
            $"ended by the network: {string.Join("; ", unreached)}");
        Assert.True(spanning >= 8, $"only {spanning} request(s) were in flight across the signal");
        Assert.True(ok > 50, $"only {ok} requests answered");
        Assert.Equal(16, refused + unreached.Count);   // every loop ended on a connection the app no longer took
        Assert.Equal(0, exit);
        Assert.True(web.IsGone());
        // The greeter saw a graceful leave: nothing logged as a warning or an error (bar the failure detector's
        // note that heartbeats came late, which says the test machine is busy, not that the leave went wrong).
        var lines = greeter.Stderr.ToList();
        var alarms = lines.Select((l, i) => (l, i)).Where(x => (x.l.Contains(" warn: ", StringComparison.Ordinal) || x.l.Contains(" fail: ", StringComparison.Ordinal))
            && !x.l.Contains("PhiAccrualFailureDetector", StringComparison.Ordinal)).Select(x => string.Join(" | ", lines.Skip(x.i).Take(3))).ToList();
        Assert.True(alarms.Count == 0, "the greeter logged, during the web app's graceful leave:\n" + string.Join('\n', alarms));
        greeter.Terminate();
        Assert.Equal(0, await greeter.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// Not served, and the client can tell: refused, or a connection the closing listener had just accepted and then
    /// reset before reading the request (the request was written into a socket nobody reads any more).
    /// </summary>
    private static bool IsRefusal(HttpRequestException e) =>
        e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.ConnectionReset }
        || e.InnerException is IOException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown } }
        || e.HttpRequestError is HttpRequestError.ConnectionError;
}
