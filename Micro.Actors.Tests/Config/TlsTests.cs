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
    private (string Pfx, string Pem, X509Certificate2 Certificate) MakeCertificate(string name, bool expired = false)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var from = DateTimeOffset.UtcNow.AddDays(expired ? -10 : -1);
        using var made = request.CreateSelfSigned(from, expired ? from.AddDays(2) : DateTimeOffset.UtcNow.AddDays(1));
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
        // TLS runs on the socket transport, the default.
        Assert.Equal(new[] { Micro.Actors.Transport.SocketTransport.ConfigPath }, a.System.Settings.Config.GetStringList("akka.remote.enabled-transports"));

        await TestCluster.WaitForNodesAsync(a, "echo-b", 1);
        await TestCluster.WaitForNodesAsync(b, "echo-a", 1);
        Assert.Equal("to b", (await a.Client.CallAsync<Pong>("echo-b", "Echo.Ping", new Ping("to b"))).Text);
        Assert.Equal("to a", (await b.Client.CallAsync<Pong>("echo-a", "Echo.Ping", new Ping("to a"))).Text);
    }

    [Fact]
    public async Task A_node_without_TLS_with_an_untrusted_or_an_expired_certificate_can_neither_join_nor_call_and_each_is_logged_once()
    {
        var (_, pem, certificate) = MakeCertificate("cluster");
        var (strangerPfx, _, _) = MakeCertificate("stranger");
        var (expiredPfx, expiredPem, expiredCertificate) = MakeCertificate("expired", expired: true);
        await using var cluster = new TestCluster();
        // The member trusts the expired certificate too: only its dates keep that node out.
        var member = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Tls = new TlsOptions
        {
            Certificate = certificate,
            Trusted = [X509CertificateLoader.LoadCertificateFromFile(pem), expiredCertificate],
        });
        var logs = AkkaLogs.Capture(member.System);

        var plain = await cluster.StartClientAsync(waitUntilUp: false);
        // The stranger and the expired node trust the cluster's certificate: only the member's own check can keep them out.
        var stranger = await cluster.StartClientAsync(ByEnvironment(strangerPfx, pem), waitUntilUp: false);
        var expired = await cluster.StartClientAsync(ByEnvironment(expiredPfx, pem), waitUntilUp: false);

        // Each keeps trying to join through the TLS node; all are watched at once (the same join rounds for each).
        await Task.WhenAll(new[] { plain, stranger, expired }.Select(async outsider =>
        {
            var refused = await Record.ExceptionAsync(() => outsider.WhenUpAsync().WaitAsync(TimeSpan.FromSeconds(4)));
            Assert.True(refused is TimeoutException, refused?.ToString());
            var call = await Assert.ThrowsAsync<MicroException>(() => outsider.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("let me in"),
                new CallOptions { Timeout = TimeSpan.FromSeconds(1) }));
            Assert.True(call.Code is 408 or 503 or 404, call.ToString());
        }));
        Assert.Single(Akka.Cluster.Cluster.Get(member.System).State.Members);

        // Each outsider tried several times; each reason is said loudly once, with the peer's address.
        Assert.Single(logs.Containing("is not trusted here"), m => m.Contains("CN=stranger"));
        var expiry = Assert.Single(logs.Containing("CN=expired"));
        Assert.Contains("127.0.0.1:", expiry);
        Assert.Single(logs.Containing("TLS: refused the connection connected from"), m => m.Contains("TLS handshake failed"));

        // The member is unharmed and still serves its own cluster.
        Assert.Equal("me", (await member.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("me"))).Text);
    }

    [Fact]
    public async Task A_TLS_client_that_shows_no_certificate_is_refused_and_the_node_keeps_serving()
    {
        var (pfx, pem, _) = MakeCertificate("cluster");
        await using var cluster = new TestCluster();
        var member = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), ByEnvironment(pfx, pem));
        var client = await cluster.StartClientAsync(ByEnvironment(pfx, pem));
        await TestCluster.WaitForNodesAsync(client, "echo", 1);
        var logs = AkkaLogs.Capture(member.System);

        // A TLS client that trusts the node but has no certificate of its own.
        var port = Akka.Cluster.Cluster.Get(member.System).SelfAddress.Port!.Value;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        await using var ssl = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // With TLS 1.3 the client may finish its side before the server refuses: the refusal then ends the first read.
        var failed = await Record.ExceptionAsync(async () =>
        {
            await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "127.0.0.1" }, deadline.Token);
            var read = await ssl.ReadAsync(new byte[16], deadline.Token);
            if (read == 0) throw new IOException("closed by the node");
        });
        Assert.True(failed is IOException or System.Security.Authentication.AuthenticationException, failed?.ToString());
        Assert.False(deadline.IsCancellationRequested, "the node neither refused nor closed the connection");
        await Eventually.TrueAsync(() => logs.Containing("showed no certificate").Count == 1, TimeSpan.FromSeconds(5), "the refusal in the node's log");

        Assert.Equal("still here", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still here"))).Text);
    }

    [Theory]
    [InlineData("socket", "dot-netty")]
    [InlineData("dot-netty", "socket")]
    public async Task Nodes_with_TLS_on_the_socket_transport_and_on_DotNetty_form_one_cluster_and_call_each_other(string seedTransport, string joinerTransport)
    {
        var (pfx, pem, _) = MakeCertificate("cluster");
        await using var cluster = new TestCluster();
        Action<Micro.Actors.Service.MicroServiceOptions> On(string transport) => o =>
        {
            ByEnvironment(pfx, pem)(o);
            o.Config = TestCluster.FastConfig + $"\nmicro.transport = {transport}";
        };
        var seed = await cluster.StartServiceAsync("echo-a", s => EchoHandler.Register(s), On(seedTransport));
        var joiner = await cluster.StartServiceAsync("echo-b", s => EchoHandler.Register(s), On(joinerTransport));
        Assert.Contains(seedTransport == "socket" ? "micro-tcp" : "dot-netty", seed.System.Settings.Config.GetStringList("akka.remote.enabled-transports")[0]);
        Assert.Contains(joinerTransport == "socket" ? "micro-tcp" : "dot-netty", joiner.System.Settings.Config.GetStringList("akka.remote.enabled-transports")[0]);

        await TestCluster.WaitForNodesAsync(seed, "echo-b", 1);
        await TestCluster.WaitForNodesAsync(joiner, "echo-a", 1);
        Assert.Equal("to b", (await seed.Client.CallAsync<Pong>("echo-b", "Echo.Ping", new Ping("to b"))).Text);
        Assert.Equal("to a", (await joiner.Client.CallAsync<Pong>("echo-a", "Echo.Ping", new Ping("to a"))).Text);
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
