using System.Reflection;
using Akka.Configuration;

namespace Micro.Actors.Config;

/// <summary>Builds the Akka configuration of one node from micro.conf, user HOCON and resolved settings.</summary>
public static class MicroConfig
{
    private static readonly Lazy<Akka.Configuration.Config> Defaults = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Micro.Actors.micro.conf")
            ?? throw new InvalidOperationException("micro.conf is not embedded in Micro.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>The defaults of config/micro.conf.</summary>
    public static Akka.Configuration.Config Default => Defaults.Value;

    /// <summary>User HOCON (if any) over the defaults: what settings are read from.</summary>
    public static Akka.Configuration.Config Load(string? userHocon) => string.IsNullOrWhiteSpace(userHocon)
        ? Default
        : ConfigurationFactory.ParseString(userHocon).WithFallback(Default);

    /// <summary>The final Akka configuration: the resolved settings written into Akka's keys.</summary>
    public static Akka.Configuration.Config ForNode(Akka.Configuration.Config loaded, MicroSettings settings, string? role)
    {
        var roles = role is null ? "[]" : $"[{Quote(role)}]";
        // The socket transport has no TLS: a node with TLS keeps DotNetty's.
        var transport = settings.Transport == MicroSettings.SocketTransport && settings.Tls is null
            ? Transport.SocketTransport.ConfigPath : "akka.remote.dot-netty.tcp";
        // Akka's transport keys that users already set (frame size, the address behind NAT) apply to both transports.
        var frame = loaded.GetByteSize(MicroSettings.FrameSizeSetting) ?? 128000;
        var publicHostname = loaded.GetString("akka.remote.dot-netty.tcp.public-hostname", "");
        var publicPort = loaded.GetInt("akka.remote.dot-netty.tcp.public-port", 0);
        var overrides = $$"""
            akka.remote.enabled-transports = [{{Quote(transport)}}]
            akka.remote.dot-netty.tcp.hostname = {{Quote(settings.Host)}}
            akka.remote.dot-netty.tcp.port = {{settings.Port}}
            {{Transport.SocketTransport.ConfigPath}}.hostname = {{Quote(settings.Host)}}
            {{Transport.SocketTransport.ConfigPath}}.port = {{settings.Port}}
            {{Transport.SocketTransport.ConfigPath}}.maximum-frame-size = {{frame}}b
            {{Transport.SocketTransport.ConfigPath}}.public-hostname = {{Quote(publicHostname)}}
            {{Transport.SocketTransport.ConfigPath}}.public-port = {{publicPort}}
            akka.cluster.roles = {{roles}}
            akka.cluster.app-version = {{Quote(settings.Version)}}
            akka.remote.dot-netty.tcp.enable-ssl = {{(settings.Tls is null ? "false" : "true")}}
            """;
        // Cluster.Tools' defaults (pub/sub serializers and settings) from the start: Micro.Actors runs
        // its own mediator rather than the extension's, so nothing else would load them in time.
        return ConfigurationFactory.ParseString(overrides).WithFallback(loaded)
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig())
            .WithFallback(Akka.Streams.ActorMaterializer.DefaultConfig()); // stream refs' serializer, for streaming calls
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
