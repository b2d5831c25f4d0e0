using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Micro.Actors.Config;

namespace Micro.Actors.Transport;

/// <summary>
/// Mutual TLS on one connection of the socket transport, from <c>micro.tls</c>: each side shows its
/// certificate and checks the other's, so a connection exists only between two trusted nodes — a node
/// cannot join through connections one way and fail them the other way (akka.net #7838). TLS 1.2 or 1.3
/// (1.3 when both sides have it); the handshake has a deadline.
/// </summary>
internal sealed class TlsHandshake(TlsOptions tls, TimeSpan timeout, OnceLog refused)
{
    private const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;
    private readonly SslStreamCertificateContext _own = SslStreamCertificateContext.Create(tls.Certificate, additionalCertificates: null, offline: true);

    public TimeSpan Timeout => timeout;

    /// <summary>This node connected to <paramref name="host"/>: it checks the server's certificate and shows its own.</summary>
    public Task<SslStream> AsClientAsync(Socket socket, string host, string peer, CancellationToken cancel) =>
        RunAsync(socket, peer, "connecting to", (ssl, check, token) => ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host.Trim('[', ']'),
            ClientCertificateContext = _own,
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = check,
        }, token), cancel);

    /// <summary>A node connected here: this one shows its certificate and requires the client's.</summary>
    public Task<SslStream> AsServerAsync(Socket socket, string peer, CancellationToken cancel) =>
        RunAsync(socket, peer, "connected from", (ssl, check, token) => ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = _own,
            ClientCertificateRequired = true,
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = check,
        }, token), cancel);

    private async Task<SslStream> RunAsync(Socket socket, string peer, string direction,
        Func<SslStream, RemoteCertificateValidationCallback, CancellationToken, Task> authenticate, CancellationToken cancel)
    {
        string? problem = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        try
        {
            await authenticate(ssl, (_, certificate, _, errors) => (problem = Tls.Problem(tls, certificate, errors)) is null, deadline.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var why = problem
                ?? (e is OperationCanceledException && !cancel.IsCancellationRequested ? $"no TLS handshake within {timeout.TotalSeconds:0.#} s"
                : $"the TLS handshake failed: {Innermost(e)}");
            // Loud once per peer host and reason: a peer that retries every few seconds says it once.
            refused.Say($"{Host(peer)}|{why}", "TLS: refused the connection {0} {1}: {2}. Both nodes need a certificate the other trusts (micro.tls).",
                direction, peer, why);
            throw new TlsRefusedException($"TLS with {peer}: {why}", e);
        }
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e.Message;
    }

    private static string Host(string peer) => peer.LastIndexOf(':') is var at and > 0 ? peer[..at] : peer;
}

/// <summary>The TLS handshake of a connection failed (the reason is logged once by <see cref="TlsHandshake"/>).</summary>
internal sealed class TlsRefusedException(string message, Exception inner) : Exception(message, inner);
