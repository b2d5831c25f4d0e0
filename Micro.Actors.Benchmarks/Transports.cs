using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Micro.Actors.Service;

namespace Micro.Actors.Benchmarks;

/// <summary>The four ways nodes talk in the transports scenario, and the throwaway certificate the TLS ones share.</summary>
public static class Transports
{
    public const string Socket = "socket";
    public static readonly string[] All = [Socket, "socket+tls", "dot-netty", "dot-netty+tls"];

    /// <summary>Set by the runner to the micro.tls HOCON of its certificate; the "+tls" nodes, here and in the servers, read it.</summary>
    public const string TlsVariable = "MICRO_BENCH_TLS";

    /// <summary>The HOCON that makes a node use <paramref name="transport"/>.</summary>
    public static string Hocon(string transport)
    {
        var (name, tls) = transport.EndsWith("+tls", StringComparison.Ordinal) ? (transport[..^4], true) : (transport, false);
        if (!tls) return $"micro.transport = {name}";
        // Not MICRO_TLS_*: those would turn TLS on for every node of the run, not just these.
        var hocon = Environment.GetEnvironmentVariable(TlsVariable) is { Length: > 0 } t ? t
            : throw new InvalidOperationException($"{transport}: no certificate ({TlsVariable} is not set)");
        return $"micro.transport = {name}\n{hocon}";
    }

    /// <summary>
    /// What the node really runs, from its final config: today a node with TLS runs DotNetty whatever
    /// micro.transport says, so the figures name the transport measured, not the one asked for.
    /// </summary>
    public static string Ran(MicroService node) => string.Join(",", node.System.Settings.Config.GetStringList("akka.remote.enabled-transports"));

    /// <summary>A self-signed certificate for 127.0.0.1 in a temporary folder, in <see cref="TlsVariable"/> until disposed.</summary>
    public static IDisposable Certificate() => new TempCertificate();

    private sealed class TempCertificate : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("bench-tls-").FullName;

        public TempCertificate()
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=micro-bench", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
            // Every node is both the server and the client of a TLS connection.
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            // Forward slashes: a HOCON string takes a backslash as an escape.
            var (pfx, pem) = (Path.Combine(_dir, "node.pfx").Replace('\\', '/'), Path.Combine(_dir, "node.pem").Replace('\\', '/'));
            File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, password));
            File.WriteAllText(pem, certificate.ExportCertificatePem());
            Environment.SetEnvironmentVariable(TlsVariable,
                $"micro.tls {{ enabled = on, certificate.path = \"{pfx}\", certificate.password = \"{password}\", trusted-certificates = \"{pem}\" }}");
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable(TlsVariable, null);
            Directory.Delete(_dir, recursive: true);
        }
    }
}
