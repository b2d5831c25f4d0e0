using Micro.Actors.AspNetCore.Dashboard;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.AspNetCore;

/// <summary>
/// The web dashboard, go-micro's <c>micro web</c>: services, their nodes' live health and stats, a call form
/// per endpoint, a topic's live tail and the cluster's membership changes. Server-rendered HTML with a
/// little script of its own (nothing from a CDN). Its forms call the gateway, so map both:
/// <code>
/// app.UseWebSockets();
/// app.MapMicroApi("/api");
/// app.MapMicroDashboard("/ui", apiPrefix: "/api");
/// </code>
/// </summary>
public static class MicroDashboardEndpoints
{
    /// <summary>Maps the dashboard's pages under <paramref name="prefix"/>; <paramref name="apiPrefix"/> is where <c>MapMicroApi</c> is mapped.</summary>
    public static RouteGroupBuilder MapMicroDashboard(this IEndpointRouteBuilder endpoints, string prefix = "/ui", string apiPrefix = "")
    {
        prefix = "/" + prefix.Trim('/');
        var root = prefix == "/" ? "" : prefix;
        var services = endpoints.ServiceProvider;
        var pages = new DashboardPages(services.GetRequiredService<IRegistry>(), services.GetRequiredService<IClient>(), root, apiPrefix.TrimEnd('/'));
        var feeds = new DashboardFeeds(services.GetRequiredService<IRegistry>(), services.GetRequiredService<IBroker>());

        var group = endpoints.MapGroup(prefix);
        group.MapGet("/", (HttpContext c) => Page(c, async ct => await pages.ServicesAsync(Fragment(c), ct))).WithDisplayName("Micro dashboard: services");
        group.MapGet("/services/{name}", (HttpContext c, string name) => Page(c, ct => pages.ServiceAsync(name, Fragment(c), ct), () => pages.Missing(name))).WithDisplayName("Micro dashboard: a service");
        group.MapGet("/events", (HttpContext c, string? topic) => Page(c, async ct => await pages.EventsAsync(topic, ct))).WithDisplayName("Micro dashboard: events");
        group.MapGet("/static/{file}", (HttpContext c, string file) => Static(c, file)).WithDisplayName("Micro dashboard: script and style");
        group.MapGet("/api/changes", new RequestDelegate(feeds.ChangesAsync)).WithDisplayName("Micro dashboard: membership changes (SSE)");
        group.MapGet("/api/tail/{topic}", (HttpContext c, string topic) => feeds.TailAsync(c, topic)).WithDisplayName("Micro dashboard: a topic's events (SSE)");
        return group;
    }

    /// <summary>The script asks for the live part alone.</summary>
    private static bool Fragment(HttpContext context) => context.Request.Headers["X-Fragment"] == "1";

    private static async Task Page(HttpContext context, Func<CancellationToken, Task<string?>> render, Func<string>? missing = null)
    {
        Secure(context.Response);
        var html = await render(context.RequestAborted).ConfigureAwait(false);
        context.Response.ContentType = "text/html; charset=utf-8";
        if (html is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            html = Fragment(context) ? "<p>This service has no nodes in the registry any more.</p>" : missing!();
        }
        await context.Response.WriteAsync(html, context.RequestAborted).ConfigureAwait(false);
    }

    private static readonly Dictionary<string, (string Type, byte[] Content)> Files = new(StringComparer.Ordinal)
    {
        ["dashboard.css"] = ("text/css; charset=utf-8", Resource("dashboard.css")),
        ["dashboard.js"] = ("text/javascript; charset=utf-8", Resource("dashboard.js")),
    };

    private static async Task Static(HttpContext context, string file)
    {
        if (!Files.TryGetValue(file, out var found)) { context.Response.StatusCode = StatusCodes.Status404NotFound; return; }
        Secure(context.Response);
        context.Response.ContentType = found.Type;
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.Body.WriteAsync(found.Content, context.RequestAborted).ConfigureAwait(false);
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(MicroDashboardEndpoints).Assembly.GetManifestResourceStream($"Micro.Actors.AspNetCore.Dashboard.{name}")
            ?? throw new InvalidOperationException($"the dashboard's {name} is not in {typeof(MicroDashboardEndpoints).Assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Only this origin's script, style and connections; no framing; pages are never cached (they are live).</summary>
    private static void Secure(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "no-store";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }
}
