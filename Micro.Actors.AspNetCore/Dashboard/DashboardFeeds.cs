using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Micro.Actors.Broker;
using Micro.Actors.Registry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Micro.Actors.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's live feeds as Server-Sent Events: the registry's changes, and a topic's events. Each lasts
/// as long as the browser listens; a tail's subscription ends with it.
/// </summary>
internal sealed class DashboardFeeds(IRegistry registry, IBroker broker)
{
    /// <summary>Events kept for a slow browser; beyond it the oldest go (the tail says how many).</summary>
    private const int TailBuffer = 256;

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>Nodes joining, changing and leaving, as the registry's watcher reports them.</summary>
    public async Task ChangesAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        await OpenAsync(context).ConfigureAwait(false);
        try
        {
            await foreach (var change in registry.WatchAsync(ct).ConfigureAwait(false))
            {
                var n = change.Node;
                await SendAsync(context, JsonSerializer.Serialize(new
                {
                    kind = change.Kind.ToString().ToLowerInvariant(),
                    service = n.Service,
                    address = n.HostPort,
                    version = n.Version,
                    status = n.Status.ToString().ToLowerInvariant(),
                    time = DateTime.UtcNow,
                }, Web)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { } // the page went away
    }

    /// <summary>
    /// Every event of <paramref name="topic"/> from now on, through a raw subscriber of its own (no queue group,
    /// so it takes nothing from the real subscribers). JSON events are shown as they are; others by type and size.
    /// </summary>
    public async Task TailAsync(HttpContext context, string topic)
    {
        var ct = context.RequestAborted;
        var events = Channel.CreateBounded<string>(new BoundedChannelOptions(TailBuffer) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        long seen = 0;
        await using var subscription = await broker.SubscribeAsync<byte[]>(topic, (body, e) =>
        {
            events.Writer.TryWrite(Describe(body, e, Interlocked.Increment(ref seen)));
            return Task.CompletedTask;
        }, cancellationToken: ct).ConfigureAwait(false);
        await OpenAsync(context).ConfigureAwait(false);
        try
        {
            await foreach (var line in events.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                await SendAsync(context, line).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private static string Describe(byte[] body, EventContext e, long number)
    {
        var type = e.Headers.TryGetValue(PubSubBroker.MessageTypeHeader, out var named) ? named : null;
        JsonNode? json = null;
        string? note = null;
        if (e.ContentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            try { json = JsonNode.Parse(body); }
            catch (JsonException) { note = "not valid JSON"; }
        }
        else note = $"{e.ContentType}: not shown (only JSON events are)";
        return JsonSerializer.Serialize(new
        {
            number,
            id = e.Id,
            topic = e.Topic,
            type,
            contentType = e.ContentType,
            size = body.Length,
            published = e.PublishedUtc,
            headers = e.Headers.Where(h => h.Key != PubSubBroker.MessageTypeHeader && !h.Key.StartsWith("trace", StringComparison.Ordinal)).ToDictionary(),
            body = json,
            note,
        }, Web);
    }

    private static async Task OpenAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = Gateway.MicroApi.EventStream;
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.WriteAsync(": open\n\n", context.RequestAborted).ConfigureAwait(false); // the browser's EventSource opens now
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task SendAsync(HttpContext context, string json)
    {
        await context.Response.WriteAsync($"data: {json}\n\n", Encoding.UTF8, context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
