using Akka.Hosting;
using Micro.Actors.Broker;
using Micro.Actors.Client;
using Micro.Actors.Hosting.Configuration;
using Micro.Actors.Hosting.Telemetry;
using Micro.Actors.Registry;
using Micro.Actors.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Micro.Actors.Hosting;

/// <summary>
/// Micro.Actors on the .NET Generic Host (ASP.NET Core, worker services), on Akka.Hosting: one node per
/// host, started with the host (which waits until it is Up and its registry ready) and stopped with it,
/// after the host's own work (Kestrel's requests) is done.
/// </summary>
public static class MicroHostingExtensions
{
    /// <summary>
    /// A service node of <paramref name="name"/>: <paramref name="serve"/> registers its handlers and subscribers
    /// (as on <see cref="MicroService"/>; their actors are made by DI, with a scope per request and event).
    /// <see cref="IClient"/>, <see cref="IRegistry"/>, <see cref="IBroker"/> and the <see cref="MicroService"/>
    /// are injectable. Settings come from <paramref name="configure"/>, then configuration's <c>Micro</c> section.
    /// </summary>
    public static MicroHostBuilder AddMicroService(this IServiceCollection services, string name, Action<MicroService>? serve = null,
        Action<MicroServiceOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Add(services, name, serve, configure);
    }

    /// <summary>A client-only node (no service of its own): it calls, publishes and watches. It takes any free port unless told one.</summary>
    public static MicroHostBuilder AddMicroClient(this IServiceCollection services, Action<MicroServiceOptions>? configure = null) =>
        Add(services, null, null, configure);

    private static MicroHostBuilder Add(IServiceCollection services, string? name, Action<MicroService>? serve, Action<MicroServiceOptions>? configure)
    {
        if (services.Any(d => d.ServiceType == typeof(MicroHostBuilder)))
            throw new InvalidOperationException("A host runs one Micro.Actors node: AddMicroService or AddMicroClient was called already (one node serves one service)");
        var builder = new MicroHostBuilder(services, name, ClusterNameAtRegistration(services, configure));
        if (serve is not null) builder.Serve(serve);
        services.AddSingleton(builder);

        var options = services.AddOptions<MicroServiceOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddSingleton<IConfiguration>(_ => new ConfigurationBuilder().Build());
        services.AddSingleton<MicroOptionsSetup>();
        services.AddSingleton<IPostConfigureOptions<MicroServiceOptions>>(sp => sp.GetRequiredService<MicroOptionsSetup>());
        services.AddSingleton<IValidateOptions<MicroServiceOptions>>(sp => sp.GetRequiredService<MicroOptionsSetup>());
        options.ValidateOnStart();

        services.AddSingleton(sp => builder.Build(sp));
        services.AddSingleton(sp => sp.GetRequiredService<MicroService>().Client);
        services.AddSingleton(sp => sp.GetRequiredService<MicroService>().Registry);
        services.AddSingleton(sp => sp.GetRequiredService<MicroService>().Broker);

        // On by default when the app sets up OpenTelemetry (services.AddOpenTelemetry()); nothing without it.
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddMicroInstrumentation());
        services.ConfigureOpenTelemetryMeterProvider(m => m.AddMicroInstrumentation());

        // The actor system's name is the cluster's, so it must be known now: from code or configuration.
        services.AddAkka<MicroHostedService>(builder.ClusterName, (akka, sp) => builder.ConfigureAkka(akka, sp));
        return builder;
    }

    /// <summary>
    /// The cluster name as AddMicroService sees it: set in its options lambda, or in the configuration the
    /// builder holds (appsettings, environment, command line), or micro.conf's. A later change fails the start.
    /// </summary>
    private static string ClusterNameAtRegistration(IServiceCollection services, Action<MicroServiceOptions>? configure)
    {
        var scratch = new MicroServiceOptions();
        configure?.Invoke(scratch);
        if (scratch.ClusterName is { Length: > 0 } fromCode) return fromCode;
        var configuration = services.LastOrDefault(d => d.ServiceType == typeof(IConfiguration) && d.ImplementationInstance is IConfiguration)?.ImplementationInstance as IConfiguration;
        var section = configuration?.GetSection(MicroConfiguration.SectionName);
        var fromConfiguration = section?["ClusterName"] ?? section?["cluster-name"];
        if (!string.IsNullOrWhiteSpace(fromConfiguration)) return fromConfiguration;
        var config = Config.MicroConfig.Load(scratch.Config);
        return config.GetString("micro.cluster-name");
    }
}
