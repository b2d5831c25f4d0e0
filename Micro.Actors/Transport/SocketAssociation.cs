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
/// together from one asynchronous send (so a busy connection sends few, large writes). Reads: frames
/// are cut from the receive buffer and handed to Akka's protocol layer from the receive completion.
/// </summary>
internal sealed class SocketAssociation : AssociationHandle
{
    /// <summary>Bytes queued behind a send in flight before <see cref="Write"/> says "not now" (Akka's writer then buffers and retries).</summary>
    private const int MaxQueuedBytes = 4 * 1024 * 1024;
    /// <summary>How long a closing connection may take to send what is queued before it is closed anyway.</summary>
    private static readonly TimeSpan GracefulCloseTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly int _maxFrame;
    private readonly ILoggingAdapter _log;
    private readonly Action<SocketAssociation> _onClosed;
    private readonly object _gate = new();
    private readonly Queue<ArraySegment<byte>> _queued = new();
    private int _queuedBytes;
    private bool _sending; // an asynchronous send owns the socket's write side
    private bool _closing; // Disassociate was asked: no new writes, inbound frames dropped
    private int _closed;

    public SocketAssociation(Address localAddress, Address remoteAddress, Socket socket, int maxFrame, ILoggingAdapter log, Action<SocketAssociation> onClosed)
        : base(localAddress, remoteAddress)
    {
        _socket = socket;
        _maxFrame = maxFrame;
        _log = log;
        _onClosed = onClosed;
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
                if (_queuedBytes > 0 && _queuedBytes + frame.Length > MaxQueuedBytes) return false;
                Queue(new ArraySegment<byte>(frame));
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
                _log.Debug("Sending to {0} failed: {1}", RemoteAddress, e.Message);
                Close(); // the read side then reports the disassociation
                return false;
            }
            if (sent == frame.Length) return true;
            Queue(new ArraySegment<byte>(frame, sent, frame.Length - sent));
            _sending = true;
        }
        _ = DrainAsync();
        return true;
    }

    private void Queue(ArraySegment<byte> bytes)
    {
        _queued.Enqueue(bytes);
        _queuedBytes += bytes.Count;
    }

    /// <summary>Sends what is queued, all of it in one write each time round, until nothing is left.</summary>
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
                    if (_closing) Close();
                    return;
                }
                length = _queuedBytes;
                buffer = ArrayPool<byte>.Shared.Rent(length);
                var at = 0;
                while (_queued.TryDequeue(out var segment))
                {
                    segment.AsSpan().CopyTo(buffer.AsSpan(at));
                    at += segment.Count;
                }
                _queuedBytes = 0;
            }
            try
            {
                for (var sent = 0; sent < length;)
                    sent += await _socket.SendAsync(buffer.AsMemory(sent, length - sent), SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _log.Debug("Sending to {0} failed: {1}", RemoteAddress, e.Message);
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
        try { listener = await ReadHandlerSource.Task.ConfigureAwait(false); }
        catch (Exception)
        {
            Close();
            return;
        }
        var buffer = new byte[64 * 1024];
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
                        _log.Error("Closed the connection with {0}: it sent a frame of {1} bytes, more than maximum-frame-size ({2} bytes). " +
                                   "Set the same {3} on every node.", RemoteAddress, length, _maxFrame, Config.MicroSettings.FrameSizeSetting);
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
                if (needed > buffer.Length) Array.Resize(ref buffer, needed);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _log.Debug("Receiving from {0} ended: {1}", RemoteAddress, e.Message);
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
            if (_sending)
            {
                // DrainAsync closes once the queue is written; a peer that stops reading does not hold the socket open.
                _ = Task.Delay(GracefulCloseTimeout).ContinueWith(_ => Close(), TaskScheduler.Default);
                return;
            }
        }
        Close();
    }

    /// <summary>Closes the socket once; the read loop then ends and reports the disassociation.</summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
        _onClosed(this);
    }
}
