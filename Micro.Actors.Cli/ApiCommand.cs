using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Micro.Actors.AspNetCore;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Health;
using Micro.Actors.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Cli;

/// <summary>
/// <c>micro api</c>: go-micro's API gateway. An ASP.NET Core app on a client-only node that serves
/// <see cref="MicroApiEndpoints.MapMicroApi"/> (and the health endpoints) until Ctrl+C or SIGTERM.
/// <c>micro web</c> is the same app with the dashboard (<see cref="MicroDashboardEndpoints.MapMicroDashboard"/>) at /ui/.
/// Safe by default: it listens on 127.0.0.1, no browser origin may call it, and errors carry no exception text.
/// </summary>
internal static class ApiCommand
{
    public static Command Api(Option<string[]> seeds, Option<string?> cluster, Option<double> timeout) =>
        Create("api", "Run the HTTP gateway until Ctrl+C or SIGTERM: POST /{service}/{endpoint} (JSON; SSE for server streams), " +
            "GET /{service}/{endpoint} with a WebSocket (client and bidirectional streams), POST /events/{topic}, GET /openapi.json",
            dashboard: false, seeds, cluster, timeout);

    public static Command Web(Option<string[]> seeds, Option<string?> cluster, Option<double> timeout) =>
        Create("web", "Run the web dashboard (at /ui/: services, nodes, live health, a call form per endpoint, event tails, " +
            "membership changes) with the HTTP gateway it calls, until Ctrl+C or SIGTERM",
            dashboard: true, seeds, cluster, timeout);

    private static Command Create(string name, string description, bool dashboard, Option<string[]> seeds, Option<string?> cluster, Option<double> timeout)
    {
        var port = new Option<int>("--port") { Description = "HTTP port to listen on", DefaultValueFactory = _ => 8080 };
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var keys = new Option<string[]>("--api-key") { Description = "Require this key (Authorization: Bearer KEY or X-Api-Key: KEY); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var origins = new Option<string[]>("--cors") { Description = "Let browser pages from this origin call the gateway (e.g. http://localhost:3000); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var headers = new Option<string[]>("--metadata-header") { Description = "An HTTP header to pass as metadata besides Micro-* (e.g. X-Request-Id); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var details = new Option<bool>("--show-errors") { Description = "Put exception text in the gateway's own 500s (for development)" };

        var command = new Command(name, description)
        {
            port, host, keys, origins, headers, details,
        };
        command.SetAction((r, ct) => RunAsync(new Settings(name, dashboard,
            r.GetValue(host)!, r.GetValue(port), r.GetValue(seeds) ?? [], r.GetValue(cluster), TimeSpan.FromSeconds(r.GetValue(timeout)),
            r.GetValue(keys) ?? [], r.GetValue(origins) ?? [], r.GetValue(headers) ?? [], r.GetValue(details)), ct));
        return command;
    }

    private sealed record Settings(string Name, bool Dashboard, string Host, int Port, string[] Seeds, string? Cluster, TimeSpan Timeout,
        string[] ApiKeys, string[] Origins, string[] MetadataHeaders, bool ShowErrors);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        if (s.Port is < 0 or > 65535) return Fail(ExitCodes.BadInput, $"--port {s.Port} is not a port (0-65535)");
        if (s.Timeout <= TimeSpan.Zero) return Fail(ExitCodes.BadInput, "--timeout must be more than 0 seconds");
        var url = $"http://{(s.Host.Contains(':') ? $"[{s.Host}]" : s.Host)}:{s.Port}";

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace); // logs to stderr, as every micro command
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Logging.AddFilter("Akka", LogLevel.Warning);
        builder.Services.AddMicroClient(o =>
        {
            o.ClusterName = s.Cluster;
            o.SeedNodes.AddRange(s.Seeds);
            o.Config = $"micro.start-timeout = {s.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
        });
        builder.Services.AddMicroApi(o =>
        {
            o.ApiKeys = s.ApiKeys;
            o.MetadataHeaders = s.MetadataHeaders;
            o.ShowExceptionDetails = s.ShowErrors;
        });
        builder.Services.AddHealthChecks().AddMicroHealthChecks();
        if (s.Origins.Length > 0) builder.Services.AddCors(c => c.AddDefaultPolicy(p => p.WithOrigins(s.Origins).AllowAnyHeader().AllowAnyMethod()));

        await using var app = builder.Build();
        if (s.Origins.Length > 0) app.UseCors();
        app.UseWebSockets();
        app.MapMicroHealthChecks();
        app.MapMicroApi();
        if (s.Dashboard)
        {
            app.MapMicroDashboard("/ui");
            app.MapGet("/", () => Results.Redirect("/ui/")).ExcludeFromDescription();
        }

        var node = app.Services.GetRequiredService<MicroService>();
        if (node.Settings.SeedNodes.Count == 0)
            return Fail(ExitCodes.BadInput, "no seed node: give --seed host:port (or set MICRO_SEED_NODES) to join a cluster");
        try { await app.StartAsync(ct).ConfigureAwait(false); }
        catch (MicroException e) when (e.Error.Code == 408)
        {
            return Fail(ExitCodes.Unreachable, $"cannot reach the cluster '{node.Settings.ClusterName}' through seed node(s) {string.Join(", ", node.Settings.SeedNodes)} " +
                $"within {s.Timeout.TotalSeconds:0.#} s: is a node running there, with that cluster name? (a longer --timeout waits more)");
        }
        catch (IOException e) when (InUse(e))
        {
            return Fail(ExitCodes.BadInput, $"{url} is in use: choose another --port");
        }
        var where = s.Dashboard ? $"the dashboard at {url}/ui/, the gateway at {url}/" : $"OpenAPI at {url}/openapi.json";
        Console.Error.WriteLine($"micro {s.Name}: listening on {url} ({where}), joined cluster '{node.Settings.ClusterName}' as {node.Address}");
        try { await app.WaitForShutdownAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        Console.Error.WriteLine($"micro {s.Name}: stopped");
        return ExitCodes.Ok;
    }

    /// <summary>Kestrel wraps the socket's refusal in two layers of IOException.</summary>
    private static bool InUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }) return true;
        return false;
    }

    private static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return code;
    }
}
