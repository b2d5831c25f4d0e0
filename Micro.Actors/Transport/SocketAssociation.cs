using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;

namespace Micro.Actors.Transport;

/// <summary>What bounds one connection: its frame size, its send budget, and how long a close may flush.</summary>
/// <param name="SendBudget">Bytes a connection holds for a peer that is not reading before it refuses payloads (micro.socket.send-budget).</param>
/// <param name="HandshakeTimeout">How long an inbound connection may take to say which node it is (its ASSOCIATE).</param>
internal sealed record ConnectionLimits(int MaxFrame, TimeSpan FlushWait, long SendBudget, TimeSpan HandshakeTimeout);

/// <summary>
/// One TCP connection of <see cref="SocketTransport"/>, on the socket or its TLS stream. Writes: a frame
/// is queued under a short lock (no system call under it); the thread that finds the connection idle
/// writes what is queued itself, so at one call in flight a message leaves with no thread hop, and while
/// a write is on its way the frames behind it leave together in one write from the pool. The queue has
/// a budget in bytes: beyond it, once nothing has been written for a moment (or at four budgets),
/// payloads are refused (Akka's endpoint writer keeps them, system messages first, and tries again), control messages (heartbeats, associate, disassociate) never are, and the
/// connection is listed in the <see cref="Backlog"/>: once it has written nothing for a moment, routers
/// send its node no new calls. Reads: frames are
/// cut from the receive buffer and handed to Akka's protocol layer from the receive completion; the
/// first frame of an inbound connection must be an ASSOCIATE. A close is DotNetty's graceful one: what
/// is queued is sent, then the sending side is shut, and the socket closes when the peer closes or
/// after the flush wait.
/// </summary>
internal sealed class SocketAssociation : AssociationHandle
{
    private const int ReadBufferSize = 64 * 1024;
    /// <summary>The most one write takes from the queue (a frame bigger than this goes alone).</summary>
    private const int MaxSendBytes = 4 * 1024 * 1024;
    /// <summary>A connection Akka's protocol layer never took up (it gave up on the handshake first) is closed after this.</summary>
    private static readonly TimeSpan ListenerTimeout = TimeSpan.FromSeconds(60);

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly ConnectionLimits _limits;
    private readonly ILoggingAdapter _log;
    private readonly Backlog? _backlog;
    private readonly OnceLog? _hostile;
    private readonly Action<SocketAssociation> _onClosed;
    private readonly object _gate = new();
    /// <summary>Payloads waiting to be written (Akka's immutable bytes, not copied until they go into a send buffer).</summary>
    private readonly Queue<ByteString> _queued = new();
    private readonly TaskCompletionSource _closedSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string?> _associated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes; // queued or being written
    /// <summary>The most a connection holds, however fast its peer still reads: four budgets.</summary>
    private long HardLimit => _limits.SendBudget > long.MaxValue / 4 ? long.MaxValue : _limits.SendBudget * 4;
    private bool _over; // over the send budget: listed in the backlog
    private long _wroteAt = Environment.TickCount64; // when a write last finished (or the queue last grew from empty)
    private bool _writing; // a writer owns the stream's write side
    private bool _closing; // Disassociate was asked: no new writes, inbound frames dropped
    private int _closed;
    /// <summary>"host:port" of the peer node (known at once when this node connected; from its ASSOCIATE when it connected here).</summary>
    private string? _peer;

    /// <param name="peer">The peer node's "host:port" when this node connected to it; null for an inbound connection, which must say it first.</param>
    /// <param name="hostile">Where an inbound connection that is not an Akka node is reported (null: outbound).</param>
    public SocketAssociation(Address localAddress, Address remoteAddress, Socket socket, Stream stream, ConnectionLimits limits,
        ILoggingAdapter log, string? peer, Backlog? backlog, OnceLog? hostile, Action<SocketAssociation> onClosed)
        : base(localAddress, remoteAddress)
    {
        // Akka sets the reader from inside an actor's turn: reading must not start on that thread.
        ReadHandlerSource = new TaskCompletionSource<IHandleEventListener>(TaskCreationOptions.RunContinuationsAsynchronously);
        _socket = socket;
        _stream = stream;
        _limits = limits;
        _log = log;
        _peer = peer;
        _backlog = backlog;
        _hostile = hostile;
        _onClosed = onClosed;
        if (peer is not null) _associated.TrySetResult(peer);
    }

    /// <summary>Completes once the socket is closed.</summary>
    internal Task Closed => _closedSource.Task;

    /// <summary>The peer's "host:port" once it is known (null: the connection closed before its ASSOCIATE).</summary>
    internal Task<string?> Associated => _associated.Task;

    internal bool Closing
    {
        get { lock (_gate) return _closing; }
    }

    /// <summary>Bytes queued for the peer or on their way into the socket.</summary>
    internal long QueuedBytes
    {
        get { lock (_gate) return _queuedBytes; }
    }

    /// <summary>How long the connection has been over its budget with no write finished (zero when it is under it).</summary>
    internal TimeSpan StalledFor(long now)
    {
        // No lock: the backlog asks under its own lock, which SetOver takes under this one's gate.
        return Volatile.Read(ref _over) ? TimeSpan.FromMilliseconds(now - Volatile.Read(ref _wroteAt)) : TimeSpan.Zero;
    }

    internal void Start()
    {
        _ = ReadAsync();
        if (_peer is null) _ = ExpireUnassociatedAsync();
    }

    public override bool Write(ByteString payload)
    {
        var frameLength = 4 + payload.Length;
        lock (_gate)
        {
            if (_closing || Volatile.Read(ref _closed) != 0) return false;
            // Past the budget with nothing written for a moment (or far past it) the peer is not reading: Akka keeps the
            // payload and tries again. A busy peer that still reads takes bursts over the budget; control messages always go.
            if (_queuedBytes >= _limits.SendBudget && !AkkaPdu.IsControl(payload.Span)
                && (_queuedBytes >= HardLimit || Environment.TickCount64 - _wroteAt >= (long)Backlog.StalledAfter.TotalMilliseconds))
                return false;
            _queued.Enqueue(payload);
            _queuedBytes += frameLength;
            if (!_over && _queuedBytes >= _limits.SendBudget) SetOver(true);
            if (_writing) return true;
            _writing = true;
            Volatile.Write(ref _wroteAt, Environment.TickCount64);
        }
        _ = WriteQueuedAsync(onCallersThread: true);
        return true;
    }

    /// <summary>
    /// Writes what is queued until nothing is left. Started on the thread of the write that found the
    /// connection idle: its first write goes from there; if more is queued after it, the rest goes from the pool.
    /// </summary>
    private async Task WriteQueuedAsync(bool onCallersThread)
    {
        while (true)
        {
            byte[] buffer;
            int length = 0;
            lock (_gate)
            {
                if (_queued.Count == 0)
                {
                    _writing = false;
                    if (_closing) _ = HalfCloseAsync();
                    return;
                }
                // Everything queued (up to MaxSendBytes) goes in one send, each payload behind its length, in a pooled buffer.
                foreach (var queued in _queued)
                {
                    if (length > 0 && length + 4 + queued.Length > MaxSendBytes) break;
                    length += 4 + queued.Length;
                }
                buffer = ArrayPool<byte>.Shared.Rent(length);
                for (var at = 0; at < length;)
                {
                    var payload = _queued.Dequeue();
                    BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), payload.Length);
                    payload.Span.CopyTo(buffer.AsSpan(at + 4));
                    at += 4 + payload.Length;
                }
            }
            try
            {
                var write = _stream.WriteAsync(buffer.AsMemory(0, length));
                // Not written at once: the rest of this loop runs on the pool already, with no need to hand it over again.
                if (!write.IsCompleted) onCallersThread = false;
                await write.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The writer must never end unheard: an unexpected failure is a warning, and the connection closes either way.
                if (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
                    _log.Debug("Sending to {0} failed: {1}", RemoteAddress, e.Message);
                else
                    _log.Warning("Sending to {0} failed unexpectedly, closing the connection: {1}", RemoteAddress, e);
                Close(); // the read side then reports the disassociation
                return;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            lock (_gate)
            {
                _queuedBytes -= length;
                Volatile.Write(ref _wroteAt, Environment.TickCount64);
                if (_over && _queuedBytes <= _limits.SendBudget / 2) SetOver(false);
                if (!onCallersThread || _queued.Count == 0) continue;
            }
            // More came while this actor's thread wrote: the pool writes it, this thread goes back to its actor.
            ThreadPool.UnsafeQueueUserWorkItem(static a => _ = a.WriteQueuedAsync(onCallersThread: false), this, preferLocal: false);
            return;
        }
    }

    /// <summary>Lists or unlists this connection in the backlog (called under the gate; once the peer is known).</summary>
    private void SetOver(bool over)
    {
        Volatile.Write(ref _over, over);
        if (_peer is { } peer) _backlog?.Change(peer, this, over);
    }

    private async Task ReadAsync()
    {
        IHandleEventListener listener;
        try { listener = await ReadHandlerSource.Task.WaitAsync(ListenerTimeout).ConfigureAwait(false); }
        catch (Exception e)
        {
            _log.Debug("Closed the connection with {0}: Akka did not take it up within {1} s ({2})", RemoteAddress, ListenerTimeout.TotalSeconds, e.Message);
            Close();
            return;
        }
        var buffer = new byte[ReadBufferSize];
        var filled = 0;
        try
        {
            while (true)
            {
                var read = await _stream.ReadAsync(buffer.AsMemory(filled)).ConfigureAwait(false);
                if (read == 0) break; // the peer closed
                filled += read;
                var offset = 0;
                var needed = 0;
                while (filled - offset >= 4)
                {
                    var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    if (length < 0 || length > _limits.MaxFrame)
                    {
                        Refuse($"its next frame announces {length} bytes, more than maximum-frame-size ({_limits.MaxFrame} bytes). " +
                               $"Either it is not an Akka node, or it has a larger {Config.MicroSettings.FrameSizeSetting}: set the same on every node");
                        return;
                    }
                    if (filled - offset - 4 < length)
                    {
                        needed = 4 + length;
                        break;
                    }
                    if (_peer is null && !TakeAssociate(buffer, offset + 4, length)) return;
                    if (!Volatile.Read(ref _closing))
                        listener.Notify(new InboundPayload(UnsafeByteOperations.UnsafeWrap(buffer.AsSpan(offset + 4, length).ToArray())));
                    offset += 4 + length;
                }
                if (offset > 0)
                {
                    Buffer.BlockCopy(buffer, offset, buffer, 0, filled - offset);
                    filled -= offset;
                }
                // Grow for a frame bigger than the buffer; back to the usual size once it is through.
                var size = Math.Max(ReadBufferSize, Math.Max(needed, filled));
                if (size != buffer.Length) Array.Resize(ref buffer, size);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _log.Debug("Receiving from {0} ended: {1}", RemoteAddress, e.Message);
        }
        finally
        {
            Close();
            listener.Notify(new Disassociated(DisassociateInfo.Unknown));
        }
    }

    /// <summary>The first frame of an inbound connection: an ASSOCIATE names the peer node; anything else closes the connection.</summary>
    private bool TakeAssociate(byte[] buffer, int offset, int length)
    {
        if (AkkaPdu.AssociateOrigin(buffer, offset, length) is not { } origin)
        {
            Refuse($"its first message ({length} bytes) is not an Akka association: it is not an Akka node (or not a compatible one)");
            return false;
        }
        lock (_gate)
        {
            _peer = origin;
            if (_over) _backlog?.Change(origin, this, true);
        }
        _associated.TrySetResult(origin);
        return true;
    }

    /// <summary>An inbound connection that has not said which node it is within the handshake timeout is closed.</summary>
    private async Task ExpireUnassociatedAsync()
    {
        if (await Task.WhenAny(_associated.Task, Task.Delay(_limits.HandshakeTimeout)).ConfigureAwait(false) == _associated.Task) return;
        Refuse($"it did not associate within {_limits.HandshakeTimeout.TotalSeconds:0.#} s (micro.socket.handshake-timeout)");
    }

    /// <summary>Closes a connection whose peer broke the protocol, saying why (loudly once per peer host).</summary>
    private void Refuse(string why)
    {
        var host = RemoteAddress.Host ?? "";
        if (_hostile is { } hostile) hostile.Say($"{host}|{why[..Math.Min(why.Length, 40)]}", "Closed the connection from {0}: {1}", RemoteAddress, why);
        else _log.Warning("Closed the connection with {0}: {1}", RemoteAddress, why);
        Close();
    }

#pragma warning disable CS0672 // Akka's abstract member is itself marked obsolete; the override is what it calls.
    public override void Disassociate()
#pragma warning restore CS0672
    {
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            // A peer that stops reading, or never closes its side, does not hold the socket open.
            _ = Task.Delay(_limits.FlushWait).ContinueWith(_ => Close(), TaskScheduler.Default);
            if (_writing) return; // the writer half-closes once the queue is written
        }
        _ = HalfCloseAsync();
    }

    /// <summary>Everything queued is in the kernel: shut the sending side (after TLS's close_notify), so the peer reads to the end and closes.</summary>
    private async Task HalfCloseAsync()
    {
        try
        {
            if (_stream is SslStream ssl) await ssl.ShutdownAsync().ConfigureAwait(false);
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException) { Close(); }
    }

    /// <summary>Closes the socket once (and tells the transport); the read loop then ends and reports the disassociation.</summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _stream.Dispose();
        _socket.Dispose();
        lock (_gate)
        {
            if (_over) SetOver(false);
        }
        _associated.TrySetResult(null);
        _onClosed(this);
        _closedSource.TrySetResult();
    }
}
