using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Micro.Actors.AspNetCore.Gateway;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Server;
using Micro.Actors.Streaming;

namespace Micro.Actors.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's pages, rendered on the server. Each page has a live part (<c>#live</c>) that the script
/// fetches again as a fragment every few seconds, so there is one way to draw it; forms sit outside it and
/// keep what is typed in them.
/// </summary>
internal sealed class DashboardPages(IRegistry registry, IClient client, string prefix, string apiPrefix)
{
    private static readonly TimeSpan NodeCallTimeout = TimeSpan.FromSeconds(2);

    public async Task<string> ServicesAsync(bool fragment, CancellationToken ct)
    {
        var services = await ListAsync(ct).ConfigureAwait(false);
        var health = await Task.WhenAll(services.Select(s => Task.WhenAll(s.Nodes.Select(n => FiguresAsync(s.Name, n, stats: false, ct))))).ConfigureAwait(false);
        var live = new StringBuilder();
        if (services.Count == 0) live.Append("<p>No services in the registry yet.</p>");
        else
        {
            live.Append("<table><caption>Services</caption><thead><tr><th scope=\"col\">Service</th><th scope=\"col\">Versions</th><th scope=\"col\">Nodes</th>" +
                "<th scope=\"col\">Status</th><th scope=\"col\">Health</th></tr></thead><tbody>");
            for (var i = 0; i < services.Count; i++)
            {
                var s = services[i];
                live.Append($"<tr data-service=\"{H(s.Name)}\"><th scope=\"row\"><a href=\"{prefix}/services/{U(s.Name)}\">{H(s.Name)}</a></th><td>{H(string.Join(", ", s.Versions))}</td>" +
                    $"<td>{s.Nodes.Count}</td><td>{Status(s.Nodes)}</td><td>{Health(health[i])}</td></tr>");
            }
            live.Append("</tbody></table>");
        }
        if (fragment) return live.ToString();
        return Layout("Services", $"""
            <h1>Services</h1>
            <div id="live" data-src="{prefix}/">{live}</div>
            <section aria-labelledby="changes-title">
              <h2 id="changes-title">Cluster changes</h2>
              <p class="hint">Nodes joining, changing and leaving, as they happen.</p>
              <ol id="changes" data-src="{prefix}/api/changes" aria-live="polite"></ol>
            </section>
            """);
    }

    public async Task<string?> ServiceAsync(string name, bool fragment, CancellationToken ct)
    {
        if (await registry.GetServiceAsync(name, ct).ConfigureAwait(false) is not { } service) return null;
        var figures = await Task.WhenAll(service.Nodes.Select(n => FiguresAsync(service.Name, n, stats: true, ct))).ConfigureAwait(false);
        var live = new StringBuilder();
        live.Append("<table><caption>Nodes</caption><thead><tr><th scope=\"col\">Address</th><th scope=\"col\">Version</th><th scope=\"col\">Status</th><th scope=\"col\">Health</th>" +
            "<th scope=\"col\">Uptime</th><th scope=\"col\">Memory</th><th scope=\"col\">Threads</th><th scope=\"col\">Calls served / failed</th><th scope=\"col\">Metadata</th></tr></thead><tbody>");
        foreach (var f in figures)
        {
            var n = f.Node;
            live.Append($"<tr data-node=\"{H(n.HostPort)}\"><th scope=\"row\">{H(n.HostPort)}</th><td>{H(n.Version)}</td><td>{Badge(n.Status.ToString())}</td>");
            live.Append(f.Error is { } error ? $"<td colspan=\"5\">{Badge("failing")} {H(error)}</td>"
                : $"<td>{Badge(f.Health!.Status)} <small>{f.LatencyMs:0.0} ms</small></td><td>{f.Stats!.Uptime:d\\.hh\\:mm\\:ss}</td><td>{f.Stats.MemoryBytes / 1048576.0:0.0} MiB</td>" +
                  $"<td>{f.Stats.Threads}</td><td>{f.Stats.Endpoints.Sum(e => e.Served)} / {f.Stats.Endpoints.Sum(e => e.Failed)}</td>");
            live.Append($"<td>{H(string.Join(", ", n.Metadata.Select(kv => $"{kv.Key}={kv.Value}")))}</td></tr>");
        }
        live.Append("</tbody></table>");
        var topics = service.Nodes.SelectMany(n => n.Subscriptions).Distinct().ToList();
        if (topics.Count > 0)
        {
            live.Append("<table><caption>Topics it subscribes to</caption><thead><tr><th scope=\"col\">Topic</th><th scope=\"col\">Queue</th><th scope=\"col\">Message</th></tr></thead><tbody>");
            foreach (var t in topics)
                live.Append($"<tr><td><a href=\"{prefix}/events?topic={U(t.Topic)}\">{H(t.Topic)}</a></td><td>{H(t.Queue ?? "-")}</td><td>{H(MicroApi.ShortName(t.MessageType))}</td></tr>");
            live.Append("</tbody></table>");
        }
        if (fragment) return live.ToString();

        var endpoints = new StringBuilder();
        foreach (var e in service.Nodes.SelectMany(n => n.Endpoints).DistinctBy(e => e.Name).OrderBy(e => e.Name, StringComparer.Ordinal))
            endpoints.Append(EndpointForm(service.Name, e));
        return Layout(service.Name, $"""
            <h1>Service <span class="name">{H(service.Name)}</span></h1>
            <div id="live" data-src="{prefix}/services/{U(service.Name)}">{live}</div>
            <h2>Endpoints</h2>
            {endpoints}
            """);
    }

    public async Task<string> EventsAsync(string? topic, CancellationToken ct)
    {
        var topics = (await ListAsync(ct).ConfigureAwait(false)).SelectMany(s => s.Nodes).SelectMany(n => n.Subscriptions).Select(s => s.Topic)
            .Distinct().Order(StringComparer.Ordinal).Select(t => $"<option value=\"{H(t)}\"></option>");
        return Layout("Events", $"""
            <h1>Events</h1>
            <datalist id="topics">{string.Concat(topics)}</datalist>
            <section aria-labelledby="tail-title">
              <h2 id="tail-title">Tail a topic</h2>
              <form id="tail" data-src="{prefix}/api/tail/">
                <label for="tail-topic">Topic</label>
                <input id="tail-topic" name="topic" list="topics" required value="{H(topic ?? "")}" autocomplete="off">
                <button type="submit">Tail</button>
                <button type="button" id="tail-stop" disabled>Stop</button>
              </form>
              <p id="tail-state" class="hint" role="status"></p>
              <ol id="events" aria-live="polite"></ol>
            </section>
            <section aria-labelledby="publish-title">
              <h2 id="publish-title">Publish</h2>
              <form id="publish" data-path="{apiPrefix}/events/">
                <label for="publish-topic">Topic</label>
                <input id="publish-topic" name="topic" list="topics" required value="{H(topic ?? "")}" autocomplete="off">
                <label for="publish-type">Type <small>(when subscribers take several)</small></label>
                <input id="publish-type" name="type" autocomplete="off">
                <label for="publish-body">Event (JSON)</label>
                <textarea id="publish-body" name="body" rows="4" spellcheck="false">{"{}"}</textarea>
                <button type="submit">Publish</button>
              </form>
              <pre class="reply" id="publish-reply" role="status"></pre>
            </section>
            """);
    }

    /// <summary>The page of a service the registry does not know (any more).</summary>
    public string Missing(string name) => Layout("No such service", $"""
        <h1>No service <span class="name">{H(name)}</span></h1>
        <p>The registry has no node of <strong>{H(name)}</strong>: it is not running, or it has not joined this cluster. <a href="{prefix}/">All services</a></p>
        """);

    private string EndpointForm(string service, EndpointInfo e)
    {
        var kind = e.Stream switch
        {
            StreamKind.Server => "server",
            StreamKind.Client => "client",
            StreamKind.Bidirectional => "bidi",
            _ => e.ResponseType is null ? "one-way" : "call",
        };
        var label = kind switch
        {
            "server" => "server stream",
            "client" => "client stream",
            "bidi" => "bidirectional stream",
            _ => kind,
        };
        var id = "ep-" + string.Concat(e.Name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-'));
        var many = kind is "client" or "bidi";
        var sample = Sample(e.RequestShape);
        return $"""
            <section class="endpoint" id="{id}" aria-labelledby="{id}-title">
              <h3 id="{id}-title">{H(e.Name)} <span class="badge kind">{label}</span></h3>
              <dl>
                <dt>Request</dt><dd><code>{H(MicroApi.ShortName(e.RequestType))}</code> <code class="shape">{H(e.RequestShape ?? "")}</code></dd>
                <dt>Response</dt><dd>{(e.ResponseType is null ? "(none)" : $"<code>{H(MicroApi.ShortName(e.ResponseType))}</code> <code class=\"shape\">{H(e.ResponseShape ?? "")}</code>")}</dd>
              </dl>
              <form class="call" data-path="{apiPrefix}/{U(service)}/{U(e.Name)}" data-kind="{kind}">
                <label for="{id}-body">{(many ? "Requests (JSON, one per line)" : "Request (JSON)")}</label>
                <textarea id="{id}-body" name="body" rows="{(many ? 4 : Math.Clamp(sample.Count(c => c == '\n') + 1, 2, 12))}" spellcheck="false">{H(many ? Compact(sample) : sample)}</textarea>
                <button type="submit">{(kind == "one-way" ? "Send" : "Call")} {H(e.Name)}</button>
              </form>
              <pre class="reply" id="{id}-reply" role="status" aria-label="Reply of {H(e.Name)}"></pre>
            </section>
            """;
    }

    private sealed record NodeFigures(ServiceNode Node, HealthReply? Health, StatsReply? Stats, double LatencyMs, string? Error);

    /// <summary>One node's health and stats, asked of it directly (no retry elsewhere): what it says, or why it did not.</summary>
    private async Task<NodeFigures> FiguresAsync(string service, ServiceNode node, bool stats, CancellationToken ct)
    {
        if (node.Status != NodeStatus.Up) return new NodeFigures(node, null, null, 0, $"not asked: the node is {node.Status.ToString().ToLowerInvariant()}");
        var options = new CallOptions { Address = node.HostPort, Retries = 0, Timeout = NodeCallTimeout };
        var watch = Stopwatch.StartNew();
        try
        {
            var health = await client.CallAsync<HealthReply>(service, BuiltIn.Health, new object(), options, ct).ConfigureAwait(false);
            var latency = watch.Elapsed.TotalMilliseconds;
            var figures = stats ? await client.CallAsync<StatsReply>(service, BuiltIn.Stats, new object(), options, ct).ConfigureAwait(false) : null;
            return new NodeFigures(node, health, figures, latency, null);
        }
        catch (MicroException e) { return new NodeFigures(node, null, null, 0, $"{e.Error.Code} {e.Error.Detail}"); }
    }

    private async Task<List<ServiceInfo>> ListAsync(CancellationToken ct)
    {
        var found = await Task.WhenAll((await registry.ListServicesAsync(ct).ConfigureAwait(false)).Select(s => registry.GetServiceAsync(s.Name, ct))).ConfigureAwait(false);
        return found.OfType<ServiceInfo>().OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    private static string Status(IReadOnlyList<ServiceNode> nodes) =>
        string.Join(" ", nodes.GroupBy(n => n.Status).OrderBy(g => g.Key).Select(g => Badge($"{g.Count()} {g.Key.ToString().ToLowerInvariant()}", g.Key.ToString())));

    /// <summary>The nodes' health in a word each, counted: "2 ok", "1 failing".</summary>
    private static string Health(IEnumerable<NodeFigures> nodes) =>
        string.Join(" ", nodes.GroupBy(n => n.Health?.Status ?? (n.Node.Status == NodeStatus.Up ? "failing" : "unknown")).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Badge($"{g.Count()} {g.Key}", g.Key)));

    private static string Badge(string text, string? kind = null) => $"<span class=\"badge {H((kind ?? text).ToLowerInvariant())}\">{H(text)}</span>";

    private string Layout(string title, string body) => $"""
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>{H(title)} · Micro.Actors</title>
          <link rel="stylesheet" href="{prefix}/static/dashboard.css">
        </head>
        <body>
          <a class="skip" href="#main">Skip to the content</a>
          <header>
            <nav aria-label="Dashboard">
              <a href="{prefix}/" class="brand">Micro.Actors</a>
              <a href="{prefix}/">Services</a>
              <a href="{prefix}/events">Events</a>
              <a href="{apiPrefix}/openapi.json">OpenAPI</a>
            </nav>
          </header>
          <main id="main" tabindex="-1">
        {body}
          </main>
          <script src="{prefix}/static/dashboard.js"></script>
        </body>
        </html>
        """;

    /// <summary>A request to start from, made from the endpoint's JSON shape: "" for strings, 0 for numbers, and so on.</summary>
    internal static string Sample(string? shape)
    {
        if (string.IsNullOrEmpty(shape)) return "{}";
        try { return SampleOf(JsonNode.Parse(shape))?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "{}"; }
        catch (JsonException) { return "{}"; }
    }

    private static JsonNode? SampleOf(JsonNode? shape) => shape switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, SampleOf(p.Value)))),
        JsonArray => new JsonArray(),
        JsonValue v when v.TryGetValue<string>(out var type) => type.EndsWith('?') ? null : type switch
        {
            "string" => JsonValue.Create(""),
            "integer" or "number" => JsonValue.Create(0),
            "boolean" => JsonValue.Create(false),
            "object" => new JsonObject(),
            _ => null,
        },
        _ => null,
    };

    private static string Compact(string json)
    {
        try { return JsonNode.Parse(json)?.ToJsonString() ?? json; }
        catch (JsonException) { return json; }
    }

    private static string H(string text) => WebUtility.HtmlEncode(text);

    private static string U(string text) => Uri.EscapeDataString(text);
}
