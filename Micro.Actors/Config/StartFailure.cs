using System.Net.Sockets;

namespace Micro.Actors.Config;

/// <summary>
/// Turns the failure of a node to listen (Akka reports it as five nested AggregateExceptions around a
/// SocketException) into one error that names the address, the port and the settings that change them.
/// </summary>
internal static class StartFailure
{
    /// <summary>A clear <see cref="MicroConfigException"/> for a failed bind; null when <paramref name="failure"/> is something else.</summary>
    public static MicroConfigException? Explain(Exception failure, MicroSettings settings)
    {
        if (Find(failure) is not { } socket) return null;
        var where = $"{settings.Host}:{settings.Port}";
        const string portSettings = "option Port (--port in the samples), MICRO_PORT, Micro:Port under a host, or micro.port";
        return socket.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => new MicroConfigException("micro.port",
                $"cannot listen on {where}: the address is already in use (another node or program has port {settings.Port}); " +
                $"give this node another port with {portSettings}, or 0 for any free port"),
            SocketError.AddressNotAvailable => new MicroConfigException("micro.host",
                $"cannot listen on {where}: no network interface of this machine has the address {settings.Host}; " +
                "set option Host (--host), MICRO_HOST, Micro:Host under a host, or micro.host to one of its addresses (127.0.0.1 for this machine only)"),
            SocketError.AccessDenied => new MicroConfigException("micro.port",
                $"cannot listen on {where}: not allowed (ports below 1024 need privileges); choose a port of 1024 or more with {portSettings}"),
            _ => new MicroConfigException("micro.port", $"cannot listen on {where}: {socket.Message} ({socket.SocketErrorCode})"),
        };
    }

    private static SocketException? Find(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket) return socket;
            if (e is AggregateException { InnerExceptions.Count: > 0 } many && many.InnerExceptions.Select(Find).FirstOrDefault(s => s is not null) is { } inner) return inner;
        }
        return null;
    }
}
