namespace Micro.Actors.Tests.Support;

/// <summary>
/// A real nats-server with JetStream on a free loopback port and a store of its own (removed at the end),
/// which can be killed and started again on the same port and store.
/// </summary>
public sealed class NatsServer : IDisposable
{
    private readonly string _store = Directory.CreateTempSubdirectory("micro-nats-").FullName;
    private ProcessRunner? _process;

    public int Port { get; } = TestCluster.FreePort();
    public string Url => $"nats://127.0.0.1:{Port}";
    public ProcessRunner Process => _process ?? throw new InvalidOperationException("nats-server is not running");

    public static NatsServer Start(params string[] more)
    {
        var server = new NatsServer { More = more };
        server.Run();
        return server;
    }

    private string[] More { get; init; } = [];

    private void Run()
    {
        _process = ProcessRunner.Start(Executable, ["-js", "-sd", _store, "-a", "127.0.0.1", "-p", $"{Port}", .. More]);
        // Its log line "Server is ready" comes once it accepts clients and JetStream has loaded the store.
        Process.WaitForLogAsync("Server is ready", TimeSpan.FromSeconds(20)).GetAwaiter().GetResult();
    }

    /// <summary>kill -9, then the same server again on its port and store.</summary>
    public void Restart()
    {
        Kill();
        Run();
    }

    public void Kill()
    {
        var process = Process;
        process.Kill();
        Eventually.TrueAsync(process.IsGone, TimeSpan.FromSeconds(10), "nats-server to be gone").GetAwaiter().GetResult();
        process.Dispose();
        _process = null;
    }

    public void Start()
    {
        if (_process is null) Run();
    }

    /// <summary>The binary: Debian's package (installed by .ci/setup) or one on the PATH.</summary>
    public static string Executable => File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server"
        : File.Exists("/usr/bin/nats-server") ? "/usr/bin/nats-server" : "nats-server";

    public void Dispose()
    {
        _process?.Dispose();
        try { Directory.Delete(_store, recursive: true); } catch (IOException) { }
    }
}
