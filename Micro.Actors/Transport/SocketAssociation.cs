using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;

namespace Micro.Actors.Transport;

/// <summary>
/// One TCP connection of <see cref="SocketTransport"/>. Writes: sent from the caller's thread while
/// the socket is idle; once a send cannot finish at once, later frames queue behind it and leave
/// together from one asynchronous send (so a busy connection sends few, large writes). Like
/// DotNetty's, the queue has no bound: Akka's protocol layer does not retry a refused heartbeat or
/// disassociate message. Reads: frames are cut from the receive buffer and handed to Akka's protocol
/// layer from the receive completion. A close is DotNetty's graceful one: what is queued is sent,
/// then the sending side is shut, and the socket closes when the peer closes or after the flush wait.
/// </summary>
internal sealed class SocketAssociation : AssociationHandle
{
    private const int ReadBufferSize = 64 * 1024;
    /// <summary>A connection Akka's protocol layer never took up (it gave up on the handshake first) is closed after this.</summary>
    private static readonly TimeSpan ListenerTimeout = TimeSpan.FromSeconds(60);

    private readonly Socket _socket;
    private readonly int _maxFrame;
    private readonly TimeSpan _flushWait;
    private readonly ILoggingAdapter _log;
    private readonly Action<SocketAssociation> _onClosed;
    private readonly object _gate = new();
    private readonly Queue<ArraySegment<byte>> _queued = new();
    private readonly TaskCompletionSource _closedSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>The most one asynchronous send takes from the queue (a frame bigger than this goes alone).</summary>
    private const int MaxSendBytes = 4 * 1024 * 1024;
    private bool _sending; // an asynchronous send owns the socket's write side
    private bool _closing; // Disassociate was asked: no new writes, inbound frames dropped
    private int _closed;

    public SocketAssociation(Address localAddress, Address remoteAddress, Socket socket, long maxFrame, TimeSpan flushWait,
        ILoggingAdapter log, Action<SocketAssociation> onClosed)
        : base(localAddress, remoteAddress)
    {
        // Akka sets the reader from inside an actor's turn: reading must not start on that thread.
        ReadHandlerSource = new TaskCompletionSource<IHandleEventListener>(TaskCreationOptions.RunContinuationsAsynchronously);
        _socket = socket;
        _maxFrame = (int)Math.Min(maxFrame, int.MaxValue - 4);
        _flushWait = flushWait;
        _log = log;
        _onClosed = onClosed;
    }

    /// <summary>Completes once the socket is closed.</summary>
    internal Task Closed => _closedSource.Task;

    internal bool Closing
    {
        get { lock (_gate) return _closing; }
    }

    internal void Start()
    {
        _socket.Blocking = false; // a send from an actor's thread never waits for the peer
        _ = ReadAsync();
    }

    public override bool Write(ByteString payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, payload.Length);
        payload.Span.CopyTo(frame.AsSpan(4));
        lock (_gate)
        {
            if (_closing || Volatile.Read(ref _closed) != 0) return false;
            if (_sending)
            {
                _queued.Enqueue(new ArraySegment<byte>(frame));
                return true;
            }
            int sent;
            try
            {
                sent = _socket.Send(frame, SocketFlags.None, out var error);
                if (error is not (SocketError.Success or SocketError.WouldBlock))
                    throw new SocketException((int)error);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _log.Debug("Sending to {Remote} failed: {Error}", RemoteAddress, e.Message);
                Close(); // the read side then reports the disassociation
                return false;
            }
            if (sent == frame.Length) return true;
            _queued.Enqueue(new ArraySegment<byte>(frame, sent, frame.Length - sent));
            _sending = true;
        }
        _ = DrainAsync();
        return true;
    }

    /// <summary>Sends what is queued, up to <see cref="MaxSendBytes"/> in one write each time round, until nothing is left.</summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            byte[] buffer;
            int length;
            lock (_gate)
            {
                if (_queued.Count == 0)
                {
                    _sending = false;
                    if (_closing) HalfClose();
                    return;
                }
                length = 0;
                foreach (var segment in _queued)
                {
                    if (length > 0 && length + segment.Count > MaxSendBytes) break;
                    length += segment.Count;
                }
                buffer = ArrayPool<byte>.Shared.Rent(length);
                for (var at = 0; at < length;)
                {
                    var segment = _queued.Dequeue();
                    segment.AsSpan().CopyTo(buffer.AsSpan(at));
                    at += segment.Count;
                }
            }
            try
            {
                for (var sent = 0; sent < length;)
                    sent += await _socket.SendAsync(buffer.AsMemory(sent, length - sent), SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _log.Debug("Sending to {Remote} failed: {Error}", RemoteAddress, e.Message);
                Close();
                return;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task ReadAsync()
    {
        IHandleEventListener listener;
        try { listener = await ReadHandlerSource.Task.WaitAsync(ListenerTimeout).ConfigureAwait(false); }
        catch (Exception e)
        {
            _log.Debug("Closed the connection with {Remote}: Akka did not take it up within {Seconds} s ({Error})", RemoteAddress, ListenerTimeout.TotalSeconds, e.Message);
            Close();
            return;
        }
        var buffer = new byte[ReadBufferSize];
        var filled = 0;
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) break; // the peer closed
                filled += read;
                var offset = 0;
                var needed = 0;
                while (filled - offset >= 4)
                {
                    var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    if (length < 0 || length > _maxFrame)
                    {
                        _log.Warning("Closed the connection with {Remote}: its next frame announces {Bytes} bytes, more than maximum-frame-size ({Limit} bytes). " +
                                     "Either it is not an Akka node, or it has a larger {Setting}: set the same on every node.",
                            RemoteAddress, length, _maxFrame, Config.MicroSettings.FrameSizeSetting);
                        return;
                    }
                    if (filled - offset - 4 < length)
                    {
                        needed = 4 + length;
                        break;
                    }
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
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _log.Debug("Receiving from {Remote} ended: {Error}", RemoteAddress, e.Message);
        }
        finally
        {
            Close();
            listener.Notify(new Disassociated(DisassociateInfo.Unknown));
        }
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
            _ = Task.Delay(_flushWait).ContinueWith(_ => Close(), TaskScheduler.Default);
            if (_sending) return; // DrainAsync half-closes once the queue is written
            HalfClose();
        }
    }

    /// <summary>Everything queued is in the kernel: shut the sending side, so the peer reads to the end and closes.</summary>
    private void HalfClose()
    {
        try { _socket.Shutdown(SocketShutdown.Send); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { Close(); }
    }

    /// <summary>Closes the socket once (and tells the transport); the read loop then ends and reports the disassociation.</summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
        _onClosed(this);
        _closedSource.TrySetResult();
    }
}
