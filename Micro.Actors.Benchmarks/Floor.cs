using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Micro.Actors.Benchmarks;

/// <summary>
/// The machine's floor for a round trip: a bare length-prefixed echo over one loopback TCP connection,
/// the same request as the others (<see cref="Payload"/>), with nothing between the socket and the caller
/// but a reader loop that matches replies by id and a writer that coalesces sends. No framework can
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
                StartReader(socket, writer, writer.Send);
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
            StartReader(socket, _writer, frame =>
            {
                if (_waiting.TryRemove(BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(4)), out var reply)) reply.TrySetResult();
            });
        }

        public Task CallAsync()
        {
            var id = Interlocked.Increment(ref _nextId);
            // Completed on the reader's thread, which then runs the caller's next call: no hop at 1 in flight.
            var reply = new TaskCompletionSource();
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

    /// <summary>
    /// Frames queue under a short lock; the thread that finds the connection idle writes everything queued, in one
    /// send per batch. The reader holds the writer while it hands over what one receive brought, so the replies (or
    /// the next calls) those frames cause leave together when it lets go.
    /// </summary>
    private sealed class Writer(Socket socket)
    {
        private readonly Queue<byte[]> _frames = new();
        private readonly byte[] _buffer = new byte[64 * 1024];
        private bool _writing;

        public void Send(byte[] frame)
        {
            lock (_frames)
            {
                _frames.Enqueue(frame);
                if (_writing) return;
                _writing = true;
            }
            Drain();
        }

        /// <summary>Takes the writer if it is idle: what is sent meanwhile waits for <see cref="Drain"/>.</summary>
        public bool Hold()
        {
            lock (_frames)
            {
                if (_writing) return false;
                return _writing = true;
            }
        }

        /// <summary>Writes what is queued until nothing is, then lets the writer go.</summary>
        public void Drain()
        {
            try
            {
                while (true)
                {
                    var length = 0;
                    lock (_frames)
                    {
                        while (_frames.TryPeek(out var next) && length + next.Length <= _buffer.Length)
                        {
                            _frames.Dequeue().CopyTo(_buffer, length);
                            length += next.Length;
                        }
                        if (length == 0) { _writing = false; return; }
                    }
                    for (var sent = 0; sent < length;)
                        sent += socket.Send(_buffer, sent, length - sent, SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_frames) _writing = false;
            }
        }
    }

    /// <summary>
    /// Cuts whole frames (header included) from the connection and hands each over, on a thread of its own that
    /// blocks in receive: the shortest way from the kernel to the caller. Replies caused by one receive leave in one send.
    /// </summary>
    private static void StartReader(Socket socket, Writer writer, Action<byte[]> onFrame) =>
        new Thread(() => ReadFrames(socket, writer, onFrame)) { IsBackground = true, Name = "floor reader" }.Start();

    private static void ReadFrames(Socket socket, Writer writer, Action<byte[]> onFrame)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                var read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (read == 0) return;
                filled += read;
                var offset = 0;
                var held = writer.Hold();
                while (filled - offset >= 4 && filled - offset >= 4 + BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset)))
                {
                    var size = 4 + BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    onFrame(buffer.AsSpan(offset, size).ToArray());
                    offset += size;
                }
                if (held) writer.Drain();
                Buffer.BlockCopy(buffer, offset, buffer, 0, filled - offset);
                filled -= offset;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }
}
