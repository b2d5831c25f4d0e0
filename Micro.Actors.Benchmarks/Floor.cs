using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Micro.Actors.Benchmarks;

/// <summary>
/// The machine's floor for a round trip: a bare length-prefixed echo over one loopback TCP connection,
/// the same request as the others (<see cref="Payload"/>), with nothing between the socket and the caller
/// but a reader loop that matches replies by id and a writer loop that coalesces sends. No framework can
/// beat it; every rpc point is read as a fraction of it.
/// </summary>
/// <remarks>A frame: a 4-byte little-endian length, then an 8-byte id and the payload.</remarks>
public static class Floor
{
    private static readonly byte[] Body = System.Text.Encoding.UTF8.GetBytes(Payload.Text);

    /// <summary>The echo server: each connection's frames go straight back, written by one coalescing writer.</summary>
    public static async Task ServeAsync(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(64);
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var socket = await listener.AcceptAsync().ConfigureAwait(false);
                socket.NoDelay = true;
                var writer = new Writer(socket);
                _ = ReadFramesAsync(socket, writer.Send);
            }
        });
        await Task.CompletedTask;
    }

    /// <summary>A client on one connection: <see cref="Client.CallAsync"/> is one round trip.</summary>
    public static async Task<Client> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
        return new Client(socket);
    }

    public sealed class Client
    {
        private readonly Socket _socket;
        private readonly Writer _writer;
        private readonly ConcurrentDictionary<long, TaskCompletionSource> _waiting = new();
        private long _nextId;

        internal Client(Socket socket)
        {
            _socket = socket;
            _writer = new Writer(socket);
            _ = ReadFramesAsync(socket, frame =>
            {
                if (_waiting.TryRemove(BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(4)), out var reply)) reply.TrySetResult();
            });
        }

        public Task CallAsync()
        {
            var id = Interlocked.Increment(ref _nextId);
            var reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[id] = reply;
            var frame = new byte[4 + 8 + Body.Length];
            BinaryPrimitives.WriteInt32LittleEndian(frame, 8 + Body.Length);
            BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(4), id);
            Body.CopyTo(frame, 12);
            _writer.Send(frame);
            return reply.Task;
        }

        public void Close() => _socket.Dispose();
    }

    /// <summary>Frames queue on a channel; one loop writes all that is waiting in one send.</summary>
    private sealed class Writer
    {
        private readonly Channel<byte[]> _frames = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });

        public Writer(Socket socket) => _ = WriteAsync(socket);

        public void Send(byte[] frame) => _frames.Writer.TryWrite(frame);

        private async Task WriteAsync(Socket socket)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (await _frames.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    var length = 0;
                    while (length < buffer.Length - 1024 && _frames.Reader.TryRead(out var frame))
                    {
                        frame.CopyTo(buffer, length);
                        length += frame.Length;
                    }
                    for (var sent = 0; sent < length;)
                        sent += await socket.SendAsync(buffer.AsMemory(sent, length - sent), SocketFlags.None).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>Cuts whole frames (header included) from the connection and hands each over.</summary>
    private static async Task ReadFramesAsync(Socket socket, Action<byte[]> onFrame)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) return;
                filled += read;
                var offset = 0;
                while (filled - offset >= 4 && filled - offset >= 4 + BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset)))
                {
                    var size = 4 + BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    onFrame(buffer.AsSpan(offset, size).ToArray());
                    offset += size;
                }
                Buffer.BlockCopy(buffer, offset, buffer, 0, filled - offset);
                filled -= offset;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }
}
