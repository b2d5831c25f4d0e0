using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Micro.Actors.Config;

/// <summary>
/// TLS between nodes, set in code (<see cref="Service.MicroServiceOptions.Tls"/>). Every node shows
/// its certificate and checks the other's (mutual TLS), so a node without a trusted certificate
/// can neither join nor call.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>This node's certificate, with its private key.</summary>
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>The certificates to trust: a private CA, or the self-signed certificate the nodes share.</summary>
    public X509Certificate2Collection Trusted { get; init; } = [];

    /// <summary>
    /// Trust whatever the operating system trusts instead of <see cref="Trusted"/>. Off by default:
    /// with it, any certificate from a public CA (valid for client and server authentication) may join.
    /// </summary>
    public bool TrustSystemStore { get; init; }

    /// <summary>Also require the peer's certificate to name the host it is reached at (off: the chain decides).</summary>
    public bool ValidateHostname { get; init; }
}

/// <summary>
/// The node's TLS options, handed to its actor system beside the configuration: the socket transport
/// reads them from there (DotNetty reads <see cref="DotNettySslSetup"/>).
/// </summary>
internal sealed class TlsSetup(TlsOptions options) : Akka.Actor.Setup.Setup
{
    public TlsOptions Options { get; } = options;
}

/// <summary>Reads <c>micro.tls</c> (and MICRO_TLS_* variables) and turns TLS options into Akka's DotNetty setup.</summary>
internal static class Tls
{
    /// <summary>TLS as configured, or null when it is off.</summary>
    public static TlsOptions? Resolve(Akka.Configuration.Config config, TlsOptions? option, Func<string, string?> env)
    {
        if (option is not null)
            return option.Trusted.Count > 0 || option.TrustSystemStore ? option
                : throw new MicroConfigException("option Tls", "no certificate to trust: set Trusted (your CA or the nodes' shared certificate), or TrustSystemStore");
        var path = Env(env, "MICRO_TLS_CERTIFICATE") ?? config.GetString("micro.tls.certificate.path", "");
        var thumbprint = config.GetString("micro.tls.certificate.thumbprint", "");
        var enabled = config.GetBoolean("micro.tls.enabled") || Env(env, "MICRO_TLS_CERTIFICATE") is not null;
        if (!enabled) return null;

        X509Certificate2 certificate;
        if (!string.IsNullOrWhiteSpace(path))
        {
            var password = Env(env, "MICRO_TLS_PASSWORD") ?? config.GetString("micro.tls.certificate.password", "");
            if (!File.Exists(path))
                throw new MicroConfigException(Setting(env, "MICRO_TLS_CERTIFICATE", "micro.tls.certificate.path"), $"no certificate file at '{path}'");
            try { certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password, X509KeyStorageFlags.Exportable); }
            catch (Exception e)
            {
                throw new MicroConfigException(Setting(env, "MICRO_TLS_CERTIFICATE", "micro.tls.certificate.path"),
                    $"'{path}' cannot be read as a PKCS#12 (.pfx) certificate with the given password (MICRO_TLS_PASSWORD or micro.tls.certificate.password): {e.Message}");
            }
        }
        else if (!string.IsNullOrWhiteSpace(thumbprint))
        {
            var storeName = config.GetString("micro.tls.certificate.store-name", "My");
            var location = config.GetString("micro.tls.certificate.store-location", "current-user") == "local-machine"
                ? StoreLocation.LocalMachine : StoreLocation.CurrentUser;
            using var store = new X509Store(storeName, location);
            store.Open(OpenFlags.ReadOnly);
            certificate = store.Certificates.Find(X509FindType.FindByThumbprint, thumbprint, validOnly: false).FirstOrDefault()
                ?? throw new MicroConfigException("micro.tls.certificate.thumbprint", $"no certificate {thumbprint} in store {storeName} ({location})");
        }
        else throw new MicroConfigException("micro.tls.enabled", "TLS is on but no certificate is given: set micro.tls.certificate.path (or MICRO_TLS_CERTIFICATE) or micro.tls.certificate.thumbprint");
        if (!certificate.HasPrivateKey)
            throw new MicroConfigException("micro.tls.certificate", $"certificate {certificate.Subject} has no private key; a node needs its own key to show it");

        var trusted = new X509Certificate2Collection();
        var trustedPath = Env(env, "MICRO_TLS_TRUSTED") ?? config.GetString("micro.tls.trusted-certificates", "");
        if (!string.IsNullOrWhiteSpace(trustedPath))
        {
            try { trusted.ImportFromPemFile(trustedPath); }
            catch (Exception e)
            {
                throw new MicroConfigException(Setting(env, "MICRO_TLS_TRUSTED", "micro.tls.trusted-certificates"),
                    $"'{trustedPath}' cannot be read as PEM certificates: {e.Message}");
            }
            if (trusted.Count == 0)
                throw new MicroConfigException(Setting(env, "MICRO_TLS_TRUSTED", "micro.tls.trusted-certificates"), $"'{trustedPath}' holds no PEM certificate");
        }
        var systemStore = config.GetBoolean("micro.tls.trust-system-store");
        if (trusted.Count == 0 && !systemStore)
            throw new MicroConfigException("micro.tls.trusted-certificates",
                "TLS is on but nothing is trusted: give the PEM file of your CA or of the nodes' shared certificate (or MICRO_TLS_TRUSTED), " +
                "or set micro.tls.trust-system-store = on to trust what the operating system trusts");
        return new TlsOptions
        {
            Certificate = certificate, Trusted = trusted, TrustSystemStore = systemStore,
            ValidateHostname = config.GetBoolean("micro.tls.validate-hostname"),
        };
    }

    /// <summary>Akka's transport setup for these options: mutual TLS, the peer checked against <see cref="TlsOptions.Trusted"/>.</summary>
    public static DotNettySslSetup Setup(TlsOptions tls) =>
        new(tls.Certificate, suppressValidation: false, requireMutualAuthentication: true, tls.ValidateHostname, Validator(tls));

    private static CertificateValidationCallback Validator(TlsOptions tls) => (certificate, _, peer, errors, log) =>
    {
        if (Problem(tls, certificate, errors) is not { } problem) return true;
        log.Warning("TLS: {0}; refused {1}", problem, peer);
        return false;
    };

    /// <summary>Why a peer's <paramref name="certificate"/> is refused here; null when it is trusted.</summary>
    public static string? Problem(TlsOptions tls, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            return "the peer showed no certificate";
        if (tls.ValidateHostname && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return $"the peer's certificate ({certificate.Subject}) does not name the host it was reached at";
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // Every node is both client and server of the other: its certificate must allow both
        // (one without any usage extension allows all).
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1"));
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        if (tls.Trusted.Count > 0)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(tls.Trusted);
        }
        // SslStream hands over an X509Certificate2; another caller may not.
        using var copy = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (chain.Build(copy ?? (X509Certificate2)certificate)) return null;
        return $"the peer's certificate ({certificate.Subject}) is not trusted here: " +
               string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());
    }

    private static string? Env(Func<string, string?> env, string name) => env(name) is { Length: > 0 } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    private static string Setting(Func<string, string?> env, string variable, string path) => Env(env, variable) is not null ? variable : path;
}
