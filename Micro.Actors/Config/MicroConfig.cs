using System.Reflection;
using Akka.Configuration;

namespace Micro.Actors.Config;

/// <summary>Builds the Akka configuration of one node from micro.conf, user HOCON and resolved settings.</summary>
internal static class MicroConfig
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

    /// <summary>Whether <paramref name="userHocon"/> sets <paramref name="path"/> itself (not just the defaults).</summary>
    public static bool Sets(string? userHocon, string path) =>
        !string.IsNullOrWhiteSpace(userHocon) && ConfigurationFactory.ParseString(userHocon).HasPath(path);

    /// <summary>
    /// The role that marks a member's service, beside the plain role of the service's name: a node may carry
    /// roles of its user's own (for sharding, singletons), and the registry must tell which one is the service.
    /// </summary>
    public const string ServiceRolePrefix = "micro-service:";

    /// <summary>The role that marks a client-only node (so that roles of its user's own are not taken for a service).</summary>
    public const string ClientRole = "micro-client";

    /// <summary>The final Akka configuration: the resolved settings written into Akka's keys.</summary>
    public static Akka.Configuration.Config ForNode(Akka.Configuration.Config loaded, MicroSettings settings, string? role)
    {
        // The user's own roles stay; the service adds its name and the mark that says which role is the service.
        var own = loaded.HasPath("akka.cluster.roles") ? loaded.GetStringList("akka.cluster.roles") : [];
        IEnumerable<string> all = role is null
            ? [.. own.Where(r => !r.StartsWith(ServiceRolePrefix, StringComparison.Ordinal)), ClientRole]
            : [.. own.Where(r => !r.StartsWith(ServiceRolePrefix, StringComparison.Ordinal) && r != ClientRole), role, ServiceRolePrefix + role];
        var roles = $"[{string.Join(", ", all.Distinct().Select(Quote))}]";
        var transport = settings.Transport == MicroSettings.SocketTransport ? Transport.SocketTransport.ConfigPath : "akka.remote.dot-netty.tcp";
        // Akka's transport keys that users already set apply to both transports, unless set for micro-tcp
        // itself; the frame size always (Micro.Actors checks sizes against it, MicroSettings.MaxPayloadBytes).
        var shared = string.Join("\n", SharedTransportKeys
            .Where(key => key == "maximum-frame-size" || !loaded.HasPath($"{Transport.SocketTransport.ConfigPath}.{key}"))
            .Select(key => (key, value: loaded.HasPath($"{DotNettyPath}.{key}") ? loaded.GetString($"{DotNettyPath}.{key}") : null))
            .Where(kv => kv.value is not null)
            .Select(kv => $"{Transport.SocketTransport.ConfigPath}.{kv.key} = {Quote(kv.value!)}"));
        var overrides = $$"""
            {{DownAfter(loaded, settings)}}
            akka.remote.enabled-transports = [{{Quote(transport)}}]
            akka.remote.dot-netty.tcp.hostname = {{Quote(settings.Host)}}
            akka.remote.dot-netty.tcp.port = {{settings.Port}}
            {{Transport.SocketTransport.ConfigPath}}.hostname = {{Quote(settings.Host)}}
            {{Transport.SocketTransport.ConfigPath}}.port = {{settings.Port}}
            {{shared}}
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

    private const string DotNettyPath = "akka.remote.dot-netty.tcp";
    private const string StableAfterPath = "akka.cluster.split-brain-resolver.stable-after";

    /// <summary>
    /// micro.down-after as the Split Brain Resolver's stable-after; nothing when it is the default and the
    /// user's own HOCON set stable-after (theirs stays).
    /// </summary>
    private static string DownAfter(Akka.Configuration.Config loaded, MicroSettings settings)
    {
        var defaults = Default;
        var ownStableAfter = loaded.GetTimeSpan(StableAfterPath, null) != defaults.GetTimeSpan(StableAfterPath, null);
        return ownStableAfter && settings.DownAfter == defaults.GetTimeSpan("micro.down-after", null) ? ""
            : $"{StableAfterPath} = {(long)settings.DownAfter.TotalMilliseconds}ms";
    }

    /// <summary>The keys of <c>akka.remote.dot-netty.tcp</c> that the socket transport reads too.</summary>
    private static readonly string[] SharedTransportKeys =
        ["maximum-frame-size", "public-hostname", "public-port", "connection-timeout", "send-buffer-size", "receive-buffer-size"];

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
