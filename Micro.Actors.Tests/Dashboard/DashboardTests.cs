using System.Net;
using System.Text;
using System.Text.Json;
using Micro.Actors.AspNetCore.Dashboard;
using Micro.Actors.Broker;
using Micro.Actors.Tests.Gateway;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Dashboard;

/// <summary>
/// The dashboard's pages and live feeds over real HTTP, in front of the gateway tests' cluster: what the browser
/// test does not look at closely (the tail of events of every kind, the membership feed, the pages' headers and 404s).
/// </summary>
public sealed class DashboardTests(GatewayTests.Gateway gateway) : IClassFixture<GatewayTests.Gateway>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    private HttpClient Http => gateway.Http;

    [Fact]
    public async Task The_pages_show_services_endpoints_and_topics_and_a_missing_service_is_a_404_page()
    {
        using var services = await Http.GetAsync("/ui/");
        Assert.Equal(HttpStatusCode.OK, services.StatusCode);
        Assert.Equal("text/html", services.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", services.Headers.GetValues("Content-Security-Policy").Single());
        var html = await services.Content.ReadAsStringAsync();
        Assert.Contains("<tr data-service=\"shop\">", html);
        Assert.Contains("1 up", html);
        Assert.Contains("1 ok", html);

        // The live part alone, as the script fetches it.
        using var fragment = new HttpRequestMessage(HttpMethod.Get, "/ui/services/shop") { Headers = { { "X-Fragment", "1" } } };
        var live = await (await Http.SendAsync(fragment)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("<html", live);
        Assert.Contains("<tr data-node=", live);
        Assert.Contains("href=\"/ui/events?topic=orders\"", live);

        var page = await Http.GetStringAsync("/ui/services/shop");
        foreach (var (endpoint, kind) in new[] { ("Echo", "call"), ("Note", "one-way"), ("Count", "server"), ("Sum", "client"), ("Chat", "bidi") })
            Assert.Contains($"data-path=\"/shop/Shop.{endpoint}\" data-kind=\"{kind}\"", page);
        Assert.Contains("&quot;text&quot;: &quot;&quot;", page); // the Echo form starts from its shape

        using var missing = await Http.GetAsync("/ui/services/nosuch");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("has no node of <strong>nosuch</strong>", await missing.Content.ReadAsStringAsync());

        var events = await Http.GetStringAsync("/ui/events");
        Assert.Contains("<option value=\"orders\">", events);

        using var script = await Http.GetAsync("/ui/static/dashboard.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Contains("EventSource", await script.Content.ReadAsStringAsync());
        Assert.Equal("text/css", (await Http.GetAsync("/ui/static/dashboard.css")).Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/ui/static/other.js")).StatusCode);
    }

    [Fact]
    public async Task The_tail_shows_every_event_of_a_topic_and_takes_none_from_its_subscribers()
    {
        using var tail = await Feed.OpenAsync(Http, "/ui/api/tail/orders");

        using var published = await Http.PostAsync("/events/orders", new StringContent("""{"id":"o-json"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, published.StatusCode);
        var json = await tail.NextAsync(Soon);
        Assert.Equal(1, json.GetProperty("number").GetInt32());
        Assert.Equal("o-json", json.GetProperty("body").GetProperty("id").GetString());
        Assert.Contains("OrderPlaced", json.GetProperty("type").GetString());

        // An event a .NET node published as itself (Hyperion): shown by size, not as JSON.
        var broker = (IBroker)gateway.App.Services.GetService(typeof(IBroker))!;
        await broker.PublishAsync("orders", new OrderPlaced("o-native"));
        var native = await tail.NextAsync(Soon);
        Assert.Equal(JsonValueKind.Null, native.GetProperty("body").ValueKind);
        Assert.True(native.GetProperty("size").GetInt32() > 0);
        Assert.Contains("not shown", native.GetProperty("note").GetString());

        // The service's own subscriber got both: the tail is a subscriber beside it, not a member of its queue.
        await Eventually.TrueAsync(() => gateway.Orders.Contains("o-json") && gateway.Orders.Contains("o-native"), Soon, "the shop to get both orders");
    }

    [Fact]
    public async Task The_changes_feed_reports_a_node_joining_and_leaving()
    {
        using var changes = await Feed.OpenAsync(Http, "/ui/api/changes");
        var extra = await gateway.Cluster.StartServiceAsync("extra");
        var added = await changes.NextAsync(Soon, c => c.GetProperty("service").GetString() == "extra");
        Assert.Equal("added", added.GetProperty("kind").GetString());
        Assert.Equal(extra.Address.ToString(), added.GetProperty("address").GetString());
        await extra.DisposeAsync();
        var removed = await changes.NextAsync(Soon, c => c.GetProperty("service").GetString() == "extra" && c.GetProperty("kind").GetString() == "removed");
        Assert.Equal("removed", removed.GetProperty("kind").GetString());
    }

    [Theory]
    [InlineData("""{"name":"string","age":"integer","ok":"boolean","tags":["string"],"nick":"string?","inner":{"n":"number"}}""",
        """{"name":"","age":0,"ok":false,"tags":[],"nick":null,"inner":{"n":0}}""")]
    [InlineData(null, "{}")]
    [InlineData("not json", "{}")]
    public void A_call_form_starts_from_a_request_made_of_the_shape(string? shape, string expected) =>
        Assert.Equal(expected, JsonSerializer.Serialize(JsonDocument.Parse(DashboardPages.Sample(shape)).RootElement));

    /// <summary>A Server-Sent Events response read a <c>data:</c> line at a time.</summary>
    private sealed class Feed(HttpResponseMessage response, StreamReader reader) : IDisposable
    {
        public static async Task<Feed> OpenAsync(HttpClient http, string path)
        {
            var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.Equal(": open", await reader.ReadLineAsync()); // sent once the feed is live
            return new Feed(response, reader);
        }

        public async Task<JsonElement> NextAsync(TimeSpan timeout, Func<JsonElement, bool>? wanted = null)
        {
            using var cancel = new CancellationTokenSource(timeout);
            while (await reader.ReadLineAsync(cancel.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var item = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                if (wanted?.Invoke(item) ?? true) return item;
            }
            throw new InvalidOperationException("the feed ended");
        }

        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }
}
