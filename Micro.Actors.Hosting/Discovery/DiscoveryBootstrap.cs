using Akka.Actor;
using Akka.Discovery.KubernetesApi;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Dsl;
using Akka.Discovery.Config.Hosting;
using Micro.Actors.Config;
using Micro.Actors.Service;

namespace Micro.Actors.Hosting.Discovery;

/// <summary>
/// A cluster formed without static seeds (micro.discovery): Akka.Management's Cluster Bootstrap finds the
/// other nodes through Akka.Discovery (a configured list, or the Kubernetes API), probes their contact
/// points (<see cref="ContactPointEndpoint"/>, on each node's management port), and either joins the cluster
/// they are in or — once <c>required-contact-points</c> are found and none is in one — has the lowest form it.
/// </summary>
internal sealed record DiscoveryBootstrap(string Method, string ServiceName, int RequiredContactPoints, string ManagementHost, int ManagementPort,
    IReadOnlyList<string> Endpoints, string KubernetesNamespace, string KubernetesLabelSelector, string KubernetesPortName)
{
    public const string Config = "config", Kubernetes = "kubernetes-api";

    /// <summary>The bootstrap the node's settings ask for; null when it joins through seed nodes.</summary>
    public static DiscoveryBootstrap? Read(Akka.Configuration.Config config, MicroSettings settings)
    {
        var method = config.GetString("micro.discovery.method", "");
        if (string.IsNullOrWhiteSpace(method) || settings.SeedNodes.Count > 0) return null;
        if (method is not (Config or Kubernetes))
            throw new MicroConfigException("micro.discovery.method", $"'{method}' is not a discovery method: use {Config} or {Kubernetes} (or leave it empty for seed nodes)");
        var bootstrap = new DiscoveryBootstrap(method,
            config.GetString("micro.discovery.service-name", "") is { Length: > 0 } name ? name : settings.ClusterName,
            Number(config, "micro.discovery.required-contact-points"),
            config.GetString("micro.discovery.management-host", "") is { Length: > 0 } host ? host : settings.Host,
            Number(config, "micro.discovery.management-port"),
            [.. config.GetStringList("micro.discovery.endpoints")],
            config.GetString("micro.discovery.kubernetes.namespace", ""),
            config.GetString("micro.discovery.kubernetes.label-selector", "app=%s"),
            config.GetString("micro.discovery.kubernetes.port-name", "management"));
        if (bootstrap.RequiredContactPoints < 1)
            throw new MicroConfigException("micro.discovery.required-contact-points", $"{bootstrap.RequiredContactPoints}: use 1 or more");
        if (bootstrap.ManagementPort is < 1 or > 65535)
            throw new MicroConfigException("micro.discovery.management-port", $"{bootstrap.ManagementPort} is not a port number (1-65535)");
        if (method == Config && bootstrap.Endpoints.Count == 0)
            throw new MicroConfigException("micro.discovery.endpoints", "discovery by config needs the management endpoints (host:port) of the cluster's nodes, this one's included");
        foreach (var endpoint in bootstrap.Endpoints) MicroSettings.ParseHostPort(endpoint, "micro.discovery.endpoints");
        return bootstrap;
    }

    private static int Number(Akka.Configuration.Config config, string path)
    {
        try { return config.GetInt(path); }
        catch (Exception e) when (e is FormatException or OverflowException or Akka.Configuration.ConfigurationException)
        {
            throw new MicroConfigException(path, $"'{config.GetString(path)}' is not a whole number");
        }
    }

    /// <summary>How long a hosted start waits for the node (micro.start-timeout), checked with the rest of the settings.</summary>
    public static TimeSpan StartTimeout(Akka.Configuration.Config config)
    {
        TimeSpan value;
        try { value = config.GetTimeSpan("micro.start-timeout", null, allowInfinite: false); }
        catch (Exception e) when (e is not MicroConfigException)
        {
            throw new MicroConfigException("micro.start-timeout", $"'{config.GetString("micro.start-timeout")}' is not a duration (e.g. 30s)");
        }
        return value > TimeSpan.Zero ? value : throw new MicroConfigException("micro.start-timeout", $"{value} must be longer than zero");
    }

    /// <summary>What a node that has not joined yet says about it (for 408s and the host's start timeout).</summary>
    public string JoinHint => Method == Config
        ? $"no cluster formed through discovery yet: {RequiredContactPoints} of the management endpoints {string.Join(", ", Endpoints)} must answer (is each node running, with management-port {ManagementPort} reachable?)"
        : $"no cluster formed through the Kubernetes API yet: {RequiredContactPoints} pod(s) labelled '{KubernetesLabelSelector.Replace("%s", ServiceName)}' must answer on port '{KubernetesPortName}'";

    /// <summary>Sets up the discovery method and the bootstrap; <see cref="StartAsync"/> starts them once the node is wired.</summary>
    public void Apply(AkkaConfigurationBuilder akka, MicroService node)
    {
        node.JoinHint = JoinHint;
        if (Method == Config)
            akka.WithConfigDiscovery(o => o.Services.Add(new Akka.Discovery.Config.Hosting.Service { Name = ServiceName, Endpoints = [.. Endpoints] }));
        else
            akka.WithKubernetesDiscovery(o =>
            {
                o.PodLabelSelector = KubernetesLabelSelector;
                if (KubernetesNamespace.Length > 0) o.PodNamespace = KubernetesNamespace;
            });
        akka.WithClusterBootstrap(o =>
        {
            o.ContactPointDiscovery.ServiceName = ServiceName;
            o.ContactPointDiscovery.DiscoveryMethod = Method;
            o.ContactPointDiscovery.RequiredContactPointsNr = RequiredContactPoints;
            if (Method == Kubernetes) o.ContactPointDiscovery.PortName = KubernetesPortName;
            // Contact points are probed where discovery says they are: several nodes may share a host (the
            // bootstrap would otherwise keep only those on its fallback port, 8558, of each host).
            o.ContactPoint.FallbackPort = ManagementPort;
            o.ContactPoint.FilterOnFallbackPort = false;
        }, autoStart: false);
    }

    public async Task StartAsync(ActorSystem system)
    {
        var endpoint = new ContactPointEndpoint(system, ManagementHost, ManagementPort);
        endpoint.Start();
        system.RegisterOnTermination(endpoint.Dispose);
        var bootstrap = ClusterBootstrap.Get(system);
        bootstrap.Routes(ManagementRouteProviderSettings.Create(endpoint.BaseUri, readOnly: true)); // tells it its own contact point
        await bootstrap.Start().ConfigureAwait(false);
    }
}
