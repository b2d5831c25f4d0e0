using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;

namespace Micro.Actors.Transport;

/// <summary>
/// Akka.Remote's TCP transport on System.Net sockets, with mutual TLS on <see cref="SslStream"/> when
/// micro.tls is on (go-micro's Transport): the default of every node. Why not DotNetty's: it hands every write from the actor's thread to a socket event
/// loop and every read from the event loop to the actors' threads. At one call in flight those
/// handoffs were half of a ~300 µs round trip; here a write is sent from the writer's own thread
/// when the socket is idle, and a read is delivered from its receive completion (~150 µs).
/// The frames are DotNetty's (a 4-byte little-endian length, then the PDU) and the scheme is
/// <c>akka.tcp</c>, so a node on either transport talks to a node on the other.
/// </summary>
/// <remarks>
/// Configured under <c>akka.remote.micro-tcp</c> (<see cref="Config.MicroConfig"/> fills it in) and
/// <c>micro.socket</c>; TLS comes from the node's <see cref="Config.TlsSetup"/>. Inbound connections that
/// have not yet said which node they are (TLS handshake, then Akka's ASSOCIATE) are bounded in number
/// and in time, so a client that connects in a loop or never finishes its handshake costs little.
/// </remarks>
internal sealed class SocketTransport : Akka.Remote.Transport.Transport
{
    /// <summary>The section of this transport under <c>akka.remote</c>.</summary>
    public const string ConfigPath = "akka.remote.micro-tcp";

    private readonly string _hostname;
    private readonly int _port;
    private readonly string _publicHostname;
    private readonly int _publicPort;
    private readonly TimeSpan _connectTimeout;
    private readonly int _sendBufferSize;
    private readonly int _receiveBufferSize;
    private readonly ILoggingAdapter _log;
    private readonly ConnectionLimits _limits;
    private readonly int _maxHandshakes;
    private int _handshakes; // inbound connections not associated yet
    private readonly TlsHandshake? _tls;
    private readonly Backlog _backlog;
    /// <summary>Peers that break the protocol or fail TLS: said loudly once each.</summary>
    private readonly OnceLog _refused;
    // By reference: Akka's handles are equal when their addresses are, and two connections can share them.
    private readonly ConcurrentDictionary<SocketAssociation, byte> _open = new(ReferenceEqualityComparer.Instance);
    private volatile bool _shutDown;
    private Socket? _listener;
    private Address? _localAddress;

    public SocketTransport(ActorSystem system, Akka.Configuration.Config config)
    {
        System = system;
        Config = config;
        _hostname = config.GetString("hostname", "");
        if (string.IsNullOrWhiteSpace(_hostname))
            throw new Akka.Configuration.ConfigurationException($"{ConfigPath}.hostname is empty: set the host other nodes reach this one at");
        _port = config.GetInt("port", 0);
        // Behind NAT or in a container: bind hostname:port, tell other nodes public-hostname:public-port.
        _publicHostname = config.GetString("public-hostname", "") is { Length: > 0 } h ? h : _hostname;
        _publicPort = config.GetInt("public-port", 0);
        MaximumPayloadBytes = config.GetByteSize("maximum-frame-size", 128000) ?? 128000;
        _connectTimeout = config.GetTimeSpan("connection-timeout", TimeSpan.FromSeconds(15));
        _sendBufferSize = (int)(config.GetByteSize("send-buffer-size", 256000) ?? 256000);
        _receiveBufferSize = (int)(config.GetByteSize("receive-buffer-size", 256000) ?? 256000);
        // Clamped: a negative or infinite wait would throw in Disassociate or hold Shutdown forever.
        var flushWait = system.Settings.Config.GetTimeSpan("akka.remote.flush-wait-on-shutdown", TimeSpan.FromSeconds(2));
        flushWait = flushWait < TimeSpan.Zero || flushWait > TimeSpan.FromMinutes(1) ? TimeSpan.FromSeconds(2) : flushWait;
        var node = system.Settings.Config;
        var handshakeTimeout = node.GetTimeSpan("micro.socket.handshake-timeout", TimeSpan.FromSeconds(10));
        _limits = new ConnectionLimits((int)Math.Min(MaximumPayloadBytes, int.MaxValue - 4), flushWait,
            node.GetByteSize("micro.socket.send-budget", 4 * 1024 * 1024) ?? 4 * 1024 * 1024, handshakeTimeout);
        _maxHandshakes = node.GetInt("micro.socket.max-handshakes", 256);
        _log = Logging.GetLogger(system, typeof(SocketTransport));
        _refused = new OnceLog(_log, LogLevel.WarningLevel);
        _backlog = Backlog.For(system);
        var tls = system.Settings.Setup.Get<Config.TlsSetup>();
        if (tls.HasValue) _tls = new TlsHandshake(tls.Value.Options, handshakeTimeout, _refused);
        // DotNetty's schemes, so that nodes on either transport reach each other: Akka's protocol layer adds
        // "akka.", and addresses read akka.tcp://… (akka.ssl.tcp://… with TLS).
        SchemeIdentifier = _tls is null ? "tcp" : "ssl.tcp";
    }

    public override async Task<(Address, TaskCompletionSource<IAssociationEventListener>)> Listen()
    {
        var ip = await ResolveAsync(_hostname).ConfigureAwait(false);
        var listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(ip, _port));
            listener.Listen(4096);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        var boundPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _localAddress = new Address(SchemeIdentifier, System.Name, HostForAddress(_publicHostname), _publicPort > 0 ? _publicPort : boundPort);
        var associations = new TaskCompletionSource<IAssociationEventListener>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = AcceptAsync(listener, associations.Task);
        return (_localAddress, associations);
    }

    private async Task AcceptAsync(Socket listener, Task<IAssociationEventListener> associations)
    {
        try { await AcceptLoopAsync(listener, associations).ConfigureAwait(false); }
        catch (Exception e) when (!_shutDown)
        {
            _log.Error(e, "This node stopped accepting connections on {Address}: {Error}", _localAddress, e.Message);
        }
        catch (Exception) { } // shut down
    }

    private async Task AcceptLoopAsync(Socket listener, Task<IAssociationEventListener> associations)
    {
        var events = await associations.ConfigureAwait(false);
        while (true)
        {
            Socket socket;
            try { socket = await listener.AcceptAsync().ConfigureAwait(false); }
            catch (ObjectDisposedException) { return; } // shut down
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted) { return; }
            catch (SocketException e)
            {
                // Out of descriptors or a connection reset while queued: keep accepting, not in a hot loop.
                _log.Warning("Accepting a connection on {Address} failed: {Error}", _localAddress, e.Message);
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            if (Interlocked.Increment(ref _handshakes) > _maxHandshakes)
            {
                Interlocked.Decrement(ref _handshakes);
                _refused.Say("handshakes", "Refused a connection from {0}: {1} connections are still in their handshake (micro.socket.max-handshakes); a client may be connecting in a loop",
                    socket.RemoteEndPoint ?? (object)"?", _maxHandshakes);
                socket.Dispose();
                continue;
            }
            _ = SetUpInboundAsync(socket, events); // the handshake runs beside the accept loop, never holding it up
        }
    }

    /// <summary>TLS (when on), then the association; it counts as a handshake until the peer has said which node it is.</summary>
    private async Task SetUpInboundAsync(Socket socket, IAssociationEventListener events)
    {
        try
        {
            Tune(socket);
            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            var peer = $"{HostForAddress(remote.Address.ToString())}:{remote.Port}";
            Stream stream = _tls is { } tls ? await tls.AsServerAsync(socket, peer, default).ConfigureAwait(false) : new NetworkStream(socket, ownsSocket: false);
            var association = Open(socket, stream, new Address(SchemeIdentifier, System.Name, HostForAddress(remote.Address.ToString()), remote.Port), peer: null);
            events.Notify(new InboundAssociation(association));
            await association.Associated.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or TlsRefusedException)
        {
            // A connection reset before it was set up, or refused by TLS (said by the handshake): drop it, keep accepting.
            _log.Debug("An inbound connection to {0} went before it was set up: {1}", _localAddress, e.Message);
            socket.Dispose();
        }
        finally
        {
            Interlocked.Decrement(ref _handshakes);
        }
    }

    public override bool IsResponsibleFor(Address remote) => true;

    public override async Task<AssociationHandle> Associate(Address remoteAddress)
    {
        if (remoteAddress.Host is not { } host || remoteAddress.Port is not { } port)
            throw new InvalidAssociationException($"{remoteAddress} has no host and port");
        if (_shutDown) throw new InvalidAssociationException($"this node's transport is shut down: no connection to {remoteAddress}");
        Socket? socket = null;
        try
        {
            using var timeout = new CancellationTokenSource(_connectTimeout); // name lookup and connect together
            var ip = await ResolveAsync(host).WaitAsync(timeout.Token).ConfigureAwait(false);
            socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(ip, port), timeout.Token).ConfigureAwait(false);
            Tune(socket);
            var peer = $"{host}:{port}";
            Stream stream = _tls is { } tls ? await tls.AsClientAsync(socket, host, peer, default).ConfigureAwait(false) : new NetworkStream(socket, ownsSocket: false);
            return Open(socket, stream, remoteAddress, peer);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or TlsRefusedException)
        {
            socket?.Dispose();
            var why = e is OperationCanceledException ? $"no connection within {_connectTimeout.TotalSeconds:0.#} s" : e.Message;
            throw new InvalidAssociationException($"{why} {remoteAddress}", e);
        }
    }

    /// <summary>Before anything is sent (the TLS handshake too): no Nagle delay, keep-alives, the configured buffers.</summary>
    private void Tune(Socket socket)
    {
        socket.NoDelay = true;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        if (_sendBufferSize > 0) socket.SendBufferSize = _sendBufferSize; // 0: the platform's default, as in DotNetty
        if (_receiveBufferSize > 0) socket.ReceiveBufferSize = _receiveBufferSize;
    }

    private SocketAssociation Open(Socket socket, Stream stream, Address remoteAddress, string? peer)
    {
        var local = new Address(SchemeIdentifier, System.Name, HostForAddress(_publicHostname), ((IPEndPoint)socket.LocalEndPoint!).Port);
        var association = new SocketAssociation(local, remoteAddress, socket, stream, _limits, _log, peer, _backlog,
            peer is null ? _refused : null, a => _open.TryRemove(a, out _));
        _open[association] = 0;
        association.Start();
        if (_shutDown) association.Close(); // Shutdown ran meanwhile and did not see it
        return association;
    }

    /// <summary>An IPv6 literal goes in brackets in an Akka address (as DotNetty writes it): akka.tcp://sys@[::1]:4053.</summary>
    private static string HostForAddress(string host) =>
        IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : host;

    private static async Task<IPAddress> ResolveAsync(string host)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var ip)) return ip;
        var found = await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
        return found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? found.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// As DotNetty's: connections that are closing get up to <c>akka.remote.flush-wait-on-shutdown</c> to
    /// send what they hold, then every connection is closed.
    /// </summary>
    public override async Task<bool> Shutdown()
    {
        _shutDown = true;
        _listener?.Dispose();
        var draining = _open.Keys.Where(a => a.Closing).Select(a => a.Closed).ToList();
        if (draining.Count > 0)
            await Task.WhenAny(Task.WhenAll(draining), Task.Delay(_limits.FlushWait)).ConfigureAwait(false);
        foreach (var association in _open.Keys) association.Close();
        return true;
    }
}
