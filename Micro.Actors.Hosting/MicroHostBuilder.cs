using Akka.Hosting;
using Micro.Actors.Hosting.Configuration;
using Micro.Actors.Hosting.Discovery;
using Micro.Actors.Hosting.Logging;
using Micro.Actors.Contracts;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Micro.Actors.Hosting;

/// <summary>
/// The hosted node being set up: more handlers (<see cref="Serve"/>) and the user's own Akka setup beside
/// Micro.Actors' (<see cref="WithAkka"/>: actors of their own, HOCON, Akka.Hosting's extensions).
/// </summary>
public sealed class MicroHostBuilder
{
    private readonly List<Action<MicroService>> _serve = [];
    private readonly List<Action<AkkaConfigurationBuilder, IServiceProvider>> _akka = [];

    internal MicroHostBuilder(IServiceCollection services, string? name, string clusterName)
    {
        Services = services;
        Name = name;
        ClusterName = clusterName;
    }

    /// <summary>The cluster (and actor system) name, fixed when the node was added.</summary>
    internal string ClusterName { get; }

    public IServiceCollection Services { get; }

    /// <summary>The service's name; null for a client-only node.</summary>
    public string? Name { get; }

    /// <summary>Registers handlers and subscribers on the node, as on a <see cref="MicroService"/>.</summary>
    public MicroHostBuilder Serve(Action<MicroService> register)
    {
        if (Name is null) throw new InvalidOperationException("A client-only node serves no endpoints: use AddMicroService(name) for a service");
        _serve.Add(register);
        return this;
    }

    /// <summary>
    /// Serves contract <typeparamref name="TContract"/> with <typeparamref name="TImplementation"/>, registered as a scoped
    /// service: one per request (a stream: per stream), constructor-injected, disposed with the request's scope.
    /// </summary>
    public MicroHostBuilder Implement<TContract, TImplementation>() where TContract : class where TImplementation : class, TContract
    {
        Services.TryAddScoped<TImplementation>();
        return Serve(service => service.Implement<TContract, TImplementation>());
    }

    /// <summary>
    /// Makes <typeparamref name="TContract"/> injectable as a typed client of its service (a singleton; each call
    /// is one call of <see cref="Client.IClient"/> with <paramref name="options"/>; <c>client.With(options)</c> changes them per call).
    /// </summary>
    public MicroHostBuilder AddClient<TContract>(Client.CallOptions? options = null) where TContract : class
    {
        Services.AddSingleton(sp => sp.GetRequiredService<Client.IClient>().For<TContract>(options));
        return this;
    }

    /// <summary>
    /// Sets up the node's actor system further, with Akka.Hosting's builder: your own actors next to the
    /// services (<c>akka.WithActors(...)</c>, then <c>IRequiredActor&lt;T&gt;</c>), HOCON, serializers. Your
    /// own cluster roles (<c>akka.cluster.roles</c>, in <see cref="MicroServiceOptions.Config"/> or HOCON added
    /// here with <c>HoconAddMode.Prepend</c>) are kept beside the service's.
    /// </summary>
    public MicroHostBuilder WithAkka(Action<AkkaConfigurationBuilder, IServiceProvider> configure)
    {
        _akka.Add(configure);
        return this;
    }

    /// <summary>
    /// A registry of your own for the hosted node, made with the host's services: given the cluster's, return the
    /// one the node reads (as <see cref="MicroServiceOptions.Registry"/>, which wins when both are set). DI's
    /// <see cref="Registry.IRegistry"/> is then the one returned here.
    /// </summary>
    public MicroHostBuilder WithRegistry(Func<Registry.IRegistry, IServiceProvider, Registry.IRegistry> create)
    {
        _registry = create;
        return this;
    }

    /// <summary>
    /// A broker of your own for the hosted node, made with the host's services: given the cluster's, return the
    /// one the node publishes and subscribes through (as <see cref="MicroServiceOptions.Broker"/>, which wins when
    /// both are set). DI's <see cref="Broker.IBroker"/> is then the one returned here, wrappers included.
    /// </summary>
    public MicroHostBuilder WithBroker(Func<Broker.IBroker, IServiceProvider, Broker.IBroker> create)
    {
        _broker = create;
        return this;
    }

    private Func<Registry.IRegistry, IServiceProvider, Registry.IRegistry>? _registry;
    private Func<Broker.IBroker, IServiceProvider, Broker.IBroker>? _broker;

    internal MicroService Build(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<MicroServiceOptions>>().Value;
        options.Services = services;
        // The host's environment decides micro.server.error-details = auto (it may come from configuration, not only a variable).
        options.HostEnvironment ??= services.GetService<Microsoft.Extensions.Hosting.IHostEnvironment>()?.EnvironmentName;
        if (_registry is { } registry) options.Registry ??= cluster => registry(cluster, services);
        if (_broker is { } broker) options.Broker ??= cluster => broker(cluster, services);
        // A selector registered in DI is the node's default, unless the options name one.
        options.Selector ??= services.GetService<Selector.ISelector>();
        // Wrappers registered in DI run inside those added in options, in the order they were registered.
        options.Wrappers.With(services.GetServices<Wrappers.IClientWrapper>(), services.GetServices<Wrappers.ICallWrapper>(),
            services.GetServices<Wrappers.IHandlerWrapper>(), services.GetServices<Wrappers.ISubscriberWrapper>(), services.GetServices<Wrappers.IPublishWrapper>());
        var node = MicroService.Of(Name, options);
        if (node.Settings.ClusterName != ClusterName)
            throw new Config.MicroConfigException("Micro:ClusterName", $"the cluster is '{ClusterName}' as AddMicroService saw it, but '{node.Settings.ClusterName}' by the time the host started; " +
                "set the cluster name in configuration (appsettings, environment, command line) or in AddMicroService's options lambda");
        foreach (var serve in _serve) serve(node);
        return node;
    }

    internal void ConfigureAkka(AkkaConfigurationBuilder akka, IServiceProvider services)
    {
        var node = services.GetRequiredService<MicroService>();
        var bootstrap = DiscoveryBootstrap.Read(node.LoadedConfig, node.Settings);
        var logging = services.GetService<ILoggerFactory>() is { } factory ? MicroLogger.Hocon(factory) : "";
        akka.AddHocon(Akka.Configuration.ConfigurationFactory.ParseString(logging).WithFallback(node.NodeConfig()), HoconAddMode.Prepend);
        foreach (var setup in node.NodeSetups()) akka.AddSetup(setup);
        bootstrap?.Apply(akka, node);
        akka.AddStartup(async (system, _) =>
        {
            node.Claim(); // the host starts this node: StartAsync on it would make a second one
            await node.AttachAsync(system, ownsSystem: false, joinSeeds: bootstrap is null, CancellationToken.None).ConfigureAwait(false);
            if (bootstrap is not null) await bootstrap.StartAsync(system).ConfigureAwait(false);
        });
        foreach (var configure in _akka) configure(akka, services);
        KeepServiceRole(akka, node);
    }

    /// <summary>
    /// Roles the user's own HOCON put over Micro.Actors' (a Prepend in <see cref="WithAkka"/>) would drop the
    /// service's role and mark, and with them the node from every registry: the service's come back beside them.
    /// </summary>
    private static void KeepServiceRole(AkkaConfigurationBuilder akka, MicroService node)
    {
        if (node.Name is null || !akka.Configuration.HasValue) return;
        var roles = akka.Configuration.Value.GetStringList("akka.cluster.roles", []);
        var wanted = new[] { node.Name, Config.MicroConfig.ServiceRolePrefix + node.Name };
        if (wanted.All(roles.Contains)) return;
        var merged = roles.Where(r => !r.StartsWith(Config.MicroConfig.ServiceRolePrefix, StringComparison.Ordinal)).Concat(wanted).Distinct()
            .Select(r => "\"" + r.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"");
        akka.AddHocon(Akka.Configuration.ConfigurationFactory.ParseString($"akka.cluster.roles = [{string.Join(", ", merged)}]"), HoconAddMode.Prepend);
    }
}
