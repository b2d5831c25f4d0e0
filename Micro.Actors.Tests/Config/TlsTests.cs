using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Client;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Config;

/// <summary>Mutual TLS between nodes, with self-signed certificates made for each test.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("micro-tls-").FullName;

    /// <summary>A self-signed certificate for 127.0.0.1, written as a .pfx (with its key) and a .pem (to trust).</summary>
    private (string Pfx, string Pem, X509Certificate2 Certificate) MakeCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.Combine(_dir, name + ".pfx");
        var pem = Path.Combine(_dir, name + ".pem");
        File.WriteAllBytes(pfx, made.Export(X509ContentType.Pfx, "secret"));
        File.WriteAllText(pem, made.ExportCertificatePem());
        return (pfx, pem, X509CertificateLoader.LoadPkcs12FromFile(pfx, "secret"));
    }

    /// <summary>TLS the way an operator turns it on: environment variables.</summary>
    private static Action<Micro.Actors.Service.MicroServiceOptions> ByEnvironment(string pfx, string pem) => o =>
        o.Environment = new Dictionary<string, string?>
        {
            ["MICRO_TLS_CERTIFICATE"] = pfx,
            ["MICRO_TLS_PASSWORD"] = "secret",
            ["MICRO_TLS_TRUSTED"] = pem,
        };

    [Fact]
    public async Task Nodes_with_the_trusted_certificate_form_a_cluster_and_call_each_other()
    {
        var (pfx, pem, certificate) = MakeCertificate("cluster");
        await using var cluster = new TestCluster();
        var a = await cluster.StartServiceAsync("echo-a", s => EchoHandler.Register(s), ByEnvironment(pfx, pem));
        var b = await cluster.StartServiceAsync("echo-b", s => EchoHandler.Register(s),
            o => o.Tls = new TlsOptions { Certificate = certificate, Trusted = [X509CertificateLoader.LoadCertificateFromFile(pem)] });
        Assert.NotNull(a.Settings.Tls);
        // The socket transport has no TLS: a TLS node keeps DotNetty's whatever micro.transport says.
        Assert.Equal(new[] { "akka.remote.dot-netty.tcp" }, a.System.Settings.Config.GetStringList("akka.remote.enabled-transports"));

        await TestCluster.WaitForNodesAsync(a, "echo-b", 1);
        await TestCluster.WaitForNodesAsync(b, "echo-a", 1);
        Assert.Equal("to b", (await a.Client.CallAsync<Pong>("echo-b", "Echo.Ping", new Ping("to b"))).Text);
        Assert.Equal("to a", (await b.Client.CallAsync<Pong>("echo-a", "Echo.Ping", new Ping("to a"))).Text);
    }

    [Fact]
    public async Task A_node_without_TLS_or_with_an_untrusted_certificate_can_neither_join_nor_call()
    {
        var (pfx, pem, _) = MakeCertificate("cluster");
        var (strangerPfx, _, _) = MakeCertificate("stranger");
        await using var cluster = new TestCluster();
        var member = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), ByEnvironment(pfx, pem));

        var plain = await cluster.StartClientAsync(waitUntilUp: false);
        // The stranger trusts the cluster's certificate: only the member's own check can keep it out.
        var stranger = await cluster.StartClientAsync(ByEnvironment(strangerPfx, pem), waitUntilUp: false);

        // Each keeps trying to join through the TLS node (give them several join rounds) — unless its own TLS
        // handshake fails, when Akka.Remote stops it, and it says so.
        // Both are watched at once: the same join rounds for each.
        await Task.WhenAll(new[] { plain, stranger }.Select(async outsider =>
        {
            var refused = await Record.ExceptionAsync(() => outsider.WhenUpAsync().WaitAsync(TimeSpan.FromSeconds(4)));
            Assert.True(refused is TimeoutException || (refused is MicroException stopped && stopped.Error.Detail.Contains("TLS handshake failed")), refused?.ToString());
            var call = await Assert.ThrowsAsync<MicroException>(() => outsider.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("let me in"),
                new CallOptions { Timeout = TimeSpan.FromSeconds(1) }));
            Assert.True(call.Code is 408 or 503 or 404, call.ToString());
        }));
        var members = Akka.Cluster.Cluster.Get(member.System).State.Members;
        Assert.Single(members);

        // The member is unharmed and still serves its own cluster.
        Assert.Equal("me", (await member.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("me"))).Text);
    }

    [Fact]
    public void A_bad_certificate_setting_names_the_setting()
    {
        var missing = Assert.Throws<MicroConfigException>(() => Micro.Actors.Service.MicroService.Create("x", o =>
            o.Environment = new Dictionary<string, string?> { ["MICRO_TLS_CERTIFICATE"] = Path.Combine(_dir, "nothing.pfx") }));
        Assert.Equal("MICRO_TLS_CERTIFICATE", missing.Setting);

        var (pfx, _, _) = MakeCertificate("wrong-password");
        var password = Assert.Throws<MicroConfigException>(() => Micro.Actors.Service.MicroService.Create("x", o =>
            o.Environment = new Dictionary<string, string?> { ["MICRO_TLS_CERTIFICATE"] = pfx, ["MICRO_TLS_PASSWORD"] = "nope" }));
        Assert.Contains("password", password.Message);

        var none = Assert.Throws<MicroConfigException>(() => Micro.Actors.Service.MicroService.Create("x", o => o.Config = "micro.tls.enabled = on"));
        Assert.Equal("micro.tls.enabled", none.Setting);

        // TLS that trusts nothing would let the operating system's whole trust store in: refused unless asked for.
        var untrusting = Assert.Throws<MicroConfigException>(() => Micro.Actors.Service.MicroService.Create("x", o =>
            o.Environment = new Dictionary<string, string?> { ["MICRO_TLS_CERTIFICATE"] = pfx, ["MICRO_TLS_PASSWORD"] = "secret" }));
        Assert.Equal("micro.tls.trusted-certificates", untrusting.Setting);
        File.WriteAllText(Path.Combine(_dir, "empty.pem"), "no certificate here");
        var empty = Assert.Throws<MicroConfigException>(() => Micro.Actors.Service.MicroService.Create("x", o =>
            o.Environment = new Dictionary<string, string?> { ["MICRO_TLS_CERTIFICATE"] = pfx, ["MICRO_TLS_PASSWORD"] = "secret", ["MICRO_TLS_TRUSTED"] = Path.Combine(_dir, "empty.pem") }));
        Assert.Equal("MICRO_TLS_TRUSTED", empty.Setting);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
