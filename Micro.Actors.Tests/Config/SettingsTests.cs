using Micro.Actors.Config;
using Micro.Actors.Service;

namespace Micro.Actors.Tests.Config;

public sealed class SettingsTests
{
    private static MicroSettings Resolve(Action<MicroServiceOptions>? configure = null, Dictionary<string, string?>? env = null)
    {
        var options = new MicroServiceOptions();
        configure?.Invoke(options);
        return MicroSettings.Resolve(MicroConfig.Load(options.Config), options, env ?? new Dictionary<string, string?>());
    }

    [Fact]
    public void Defaults_are_go_micros()
    {
        var s = Resolve();
        Assert.Equal(("micro", "127.0.0.1", 4053), (s.ClusterName, s.Host, s.Port));
        Assert.Equal(TimeSpan.FromSeconds(5), s.RequestTimeout);
        Assert.Equal(1, s.Retries);
        Assert.Equal("random", s.Strategy);
        Assert.Equal("latest", s.Version);
        Assert.Empty(s.SeedNodes);
    }

    [Fact]
    public void The_socket_transport_takes_Akkas_transport_keys_unless_set_for_itself()
    {
        var loaded = MicroConfig.Load("""
            akka.remote.dot-netty.tcp { maximum-frame-size = 256000b, connection-timeout = 3s, public-hostname = "node.example", send-buffer-size = 0b, receive-buffer-size = null }
            akka.remote.micro-tcp { public-hostname = "own.example", maximum-frame-size = 1000b }
            """);
        var node = MicroConfig.ForNode(loaded, MicroSettings.Resolve(loaded, new MicroServiceOptions(), new Dictionary<string, string?>()), "echo");
        var socket = node.GetConfig(Micro.Actors.Transport.SocketTransport.ConfigPath);

        Assert.Equal(new[] { Micro.Actors.Transport.SocketTransport.ConfigPath }, node.GetStringList("akka.remote.enabled-transports"));
        Assert.Equal(256000, socket.GetByteSize("maximum-frame-size")); // one frame size, the one Micro.Actors checks against
        Assert.Equal(TimeSpan.FromSeconds(3), socket.GetTimeSpan("connection-timeout"));
        Assert.Equal(0, socket.GetByteSize("send-buffer-size"));
        Assert.Equal("own.example", socket.GetString("public-hostname"));
        Assert.Equal(("127.0.0.1", 4053), (socket.GetString("hostname"), socket.GetInt("port")));
        Assert.False(socket.HasPath("receive-buffer-size")); // null: the transport's default
    }

    [Theory]
    [InlineData("", 20_000)]                                                                         // the default
    [InlineData("micro.down-after = 5s", 5_000)]                                                     // ours, written into Akka's key
    [InlineData("akka.cluster.split-brain-resolver.stable-after = 7s", 7_000)]                       // the user's own Akka key stays
    [InlineData("micro.down-after = 3s\nakka.cluster.split-brain-resolver.stable-after = 7s", 3_000)] // both: ours wins
    public void Down_after_is_the_split_brain_resolvers_stable_after(string hocon, int milliseconds)
    {
        var loaded = MicroConfig.Load(hocon);
        var node = MicroConfig.ForNode(loaded, MicroSettings.Resolve(loaded, new MicroServiceOptions(), new Dictionary<string, string?>()), "echo");
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), node.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
    }

    [Fact]
    public void Environment_overrides_the_file_and_options_override_the_environment()
    {
        var env = new Dictionary<string, string?> { ["MICRO_HOST"] = "127.0.0.2", ["MICRO_PORT"] = "5000", ["MICRO_SEED_NODES"] = "127.0.0.1:4053, 127.0.0.1:4054" };
        var fromEnv = Resolve(env: env);
        Assert.Equal(("127.0.0.2", 5000), (fromEnv.Host, fromEnv.Port));
        Assert.Equal([new HostPort("127.0.0.1", 4053), new HostPort("127.0.0.1", 4054)], fromEnv.SeedNodes);

        var fromOptions = Resolve(o => { o.Port = 6000; o.SeedNodes.Add("10.0.0.1:7000"); }, env);
        Assert.Equal(6000, fromOptions.Port);
        Assert.Equal([new HostPort("10.0.0.1", 7000)], fromOptions.SeedNodes);
    }

    [Fact]
    public void HOCON_given_in_options_overrides_the_file()
    {
        var s = Resolve(o => o.Config = "micro.client.retries = 3\nmicro.client.strategy = round-robin\nmicro.server.pool-size = 4");
        Assert.Equal((3, "round-robin", 4), (s.Retries, s.Strategy, s.PoolSize));
    }

    [Theory]
    [InlineData("MICRO_PORT", "http", "MICRO_PORT")]
    [InlineData("MICRO_PORT", "70000", "MICRO_PORT")]
    [InlineData("MICRO_SEED_NODES", "127.0.0.1", "MICRO_SEED_NODES")]
    [InlineData("MICRO_SEED_NODES", "127.0.0.1:port", "MICRO_SEED_NODES")]
    public void A_bad_environment_value_names_the_variable(string variable, string value, string named)
    {
        var e = Assert.Throws<MicroConfigException>(() => Resolve(env: new Dictionary<string, string?> { [variable] = value }));
        Assert.Equal(named, e.Setting);
        Assert.Contains(value, e.Message);
    }

    [Theory]
    [InlineData("micro.client.retries = -1", "micro.client.retries")]
    [InlineData("micro.client.strategy = fastest", "micro.client.strategy")]
    [InlineData("micro.transport = udp", "micro.transport")]
    [InlineData("micro.client.request-timeout = 0s", "micro.client.request-timeout")]
    [InlineData("micro.server.pool-size = 0", "micro.server.pool-size")]
    [InlineData("micro.client.batch-wait = -1ms", "micro.client.batch-wait")]
    [InlineData("micro.server.answer-batch-wait = -2ms", "micro.server.answer-batch-wait")]
    [InlineData("micro.port = -5", "micro.port")]
    [InlineData("micro.cluster-name = \"my cluster\"", "micro.cluster-name")]
    public void A_bad_HOCON_value_names_the_setting(string hocon, string setting)
    {
        var e = Assert.Throws<MicroConfigException>(() => Resolve(o => o.Config = hocon));
        Assert.Equal(setting, e.Setting);
    }

    [Fact]
    public void Bad_options_name_the_option()
    {
        Assert.Equal("option Port", Assert.Throws<MicroConfigException>(() => Resolve(o => o.Port = 99999)).Setting);
        Assert.Equal("option Retries", Assert.Throws<MicroConfigException>(() => Resolve(o => o.Retries = -2)).Setting);
        Assert.Throws<ArgumentException>(() => MicroService.Create("has space"));
        Assert.Throws<ArgumentException>(() => MicroService.Create("svc").Handle<Micro.Actors.Tests.Support.Ping, string>("NoDot", (_, _) => Task.FromResult("")));
    }
}
