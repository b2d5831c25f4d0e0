using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Streaming;

namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// A stream over one WebSocket. Each message from the caller is one JSON request; its close frame, or an
/// empty message (for browsers, whose WebSocket cannot half-close), ends the requests and the replies still come. Each reply is one text message. The end is a
/// close: 1000 when the stream finished, else 4000 + the HTTP status of the error (4400, 4404, 4413,
/// 4504 …), with the error's detail as the reason.
/// </summary>
internal sealed class SocketStream(WebSocket socket, int maxMessageBytes, CancellationToken aborted)
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(5);
    private MicroError? _refused; // a message the gateway would not pass on

    public async Task RunAsync(IClient client, string service, string endpoint, StreamKind kind, CallOptions options)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        MicroError? failure = null;
        try
        {
            switch (kind)
            {
                case StreamKind.Client:
                    await SendAsync(await client.ClientStreamAsync<byte[], byte[]>(service, endpoint, Requests(stop), options, stop.Token).ConfigureAwait(false)).ConfigureAwait(false);
                    break;
                case StreamKind.Server:
                    var request = await ReceiveAsync(stop.Token).ConfigureAwait(false) ?? "{}"u8.ToArray(); // its one request
                    if (Check(request, 1)) await Pipe(client.StreamAsync<byte[]>(service, endpoint, request, options, stop.Token)).ConfigureAwait(false);
                    break;
                default:
                    await Pipe(client.StreamAsync<byte[], byte[]>(service, endpoint, Requests(stop), options, stop.Token)).ConfigureAwait(false);
                    break;
            }
        }
        catch (MicroException e) { failure = e.Error; }
        catch (OperationCanceledException) when (_refused is not null) { }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested) { return; } // the caller went away
        catch (WebSocketException) { return; } // the connection broke: nobody to tell
        await CloseAsync(_refused ?? failure).ConfigureAwait(false);
    }

    private async Task Pipe(IAsyncEnumerable<byte[]> replies)
    {
        await foreach (var reply in replies.ConfigureAwait(false)) await SendAsync(reply).ConfigureAwait(false);
    }

    /// <summary>The caller's messages until its close frame; a message that is not JSON or too large stops the stream.</summary>
    private async IAsyncEnumerable<byte[]> Requests(CancellationTokenSource stop)
    {
        for (var n = 1; ; n++)
        {
            var message = await ReceiveAsync(stop.Token).ConfigureAwait(false);
            if (message is null || message.Length == 0) yield break;
            if (!Check(message, n))
            {
                await stop.CancelAsync().ConfigureAwait(false);
                yield break;
            }
            yield return message;
        }
    }

    private bool Check(byte[] message, int n)
    {
        if (MicroApi.JsonProblem(message) is not { } problem) return true;
        _refused = MicroError.BadRequest(GatewayRequest.Id, $"message {n} is not JSON ({problem}): send each request as a JSON object");
        return false;
    }

    /// <summary>One whole message, or null at the caller's close.</summary>
    private async Task<byte[]?> ReceiveAsync(CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            buffer.Advance(result.Count);
            if (buffer.WrittenCount > maxMessageBytes)
            {
                _refused = MicroError.New(GatewayRequest.Id, 413, $"a message is over {maxMessageBytes} bytes, the most this gateway takes (the cluster's frame limit: send less)");
                throw new OperationCanceledException();
            }
            if (result.EndOfMessage) return buffer.WrittenSpan.ToArray();
        }
    }

    private Task SendAsync(byte[] reply) => socket.SendAsync(reply, WebSocketMessageType.Text, true, aborted);

    private async Task CloseAsync(MicroError? error)
    {
        var status = error is null ? WebSocketCloseStatus.NormalClosure : (WebSocketCloseStatus)(4000 + MicroProblemDetails.StatusCode(error));
        var reason = error is null ? "done" : Reason($"{error.Code} {error.Detail}");
        using var wait = new CancellationTokenSource(CloseWait); // a caller that never answers the close does not hold the request
        try
        {
            if (socket.State == WebSocketState.Open) await socket.CloseAsync(status, reason, wait.Token).ConfigureAwait(false);
            else if (socket.State == WebSocketState.CloseReceived) await socket.CloseOutputAsync(status, reason, wait.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
    }

    /// <summary>A close reason holds at most 123 bytes of UTF-8.</summary>
    private static string Reason(string text)
    {
        if (Encoding.UTF8.GetByteCount(text) <= 123) return text;
        var cut = text.Length;
        while (Encoding.UTF8.GetByteCount(text.AsSpan(0, cut)) > 120) cut--;
        return text[..cut] + "…";
    }
}
