using System.Text.Json;
using Micro.Actors.Errors;
using Micro.Actors.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// A server stream as an HTTP response: Server-Sent Events (each reply a <c>data:</c> event, then an <c>end</c>
/// event), or NDJSON with <c>Accept: application/x-ndjson</c> (a reply per line). The first reply is awaited
/// before the status is sent, so a stream that cannot open answers with its status; a failure later is the
/// stream's last event (<c>event: error</c>, or a line <c>{"error":{…problem…}}</c>).
/// </summary>
internal static class StreamResponse
{
    private static readonly byte[] Data = "data: "u8.ToArray(), EventEnd = "\n\n"u8.ToArray(), NewLine = "\n"u8.ToArray();

    public static async Task WriteAsync(HttpContext context, IAsyncEnumerable<byte[]> replies)
    {
        var ct = context.RequestAborted;
        var ndjson = context.Request.Headers.Accept.ToString().Contains(MicroApi.NdJson, StringComparison.OrdinalIgnoreCase);
        await using var items = replies.GetAsyncEnumerator(ct);
        var more = await items.MoveNextAsync().ConfigureAwait(false); // throws before anything is sent: the caller gets the status

        var response = context.Response;
        response.ContentType = ndjson ? MicroApi.NdJson : MicroApi.EventStream;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front passes each event as it comes
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.Body;
        try
        {
            while (more)
            {
                if (!ndjson) await body.WriteAsync(Data, ct).ConfigureAwait(false);
                await body.WriteAsync(items.Current, ct).ConfigureAwait(false); // the JSON codec writes one line
                await body.WriteAsync(ndjson ? NewLine : EventEnd, ct).ConfigureAwait(false);
                await body.FlushAsync(ct).ConfigureAwait(false);
                more = await items.MoveNextAsync().ConfigureAwait(false);
            }
            if (!ndjson) await response.WriteAsync("event: end\ndata: {}\n\n", ct).ConfigureAwait(false);
        }
        catch (MicroException e)
        {
            var problem = JsonSerializer.Serialize(MicroProblemDetails.From(e.Error, context.Request.Path));
            await response.WriteAsync(ndjson ? $"{{\"error\":{problem}}}\n" : $"event: error\ndata: {problem}\n\n", ct).ConfigureAwait(false);
        }
    }

    public static string Describe(StreamKind kind) => kind switch
    {
        StreamKind.Server => "server",
        StreamKind.Client => "client",
        _ => "bidirectional",
    };
}
