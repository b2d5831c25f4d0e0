using Micro.Actors.Hosting;
using Micro.Actors.Nats;
using Micro.Actors.Samples.Front;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Samples;

/// <summary>
/// The samples run on the .NET Generic Host, as a team's own service would: the node is added with
/// AddMicroService/AddMicroClient, its settings come from the command line's flags over configuration
/// (<c>Micro__Port</c>, appsettings.json), logs go through ILogger — to stderr, one line each, so that
/// stdout carries only a sample's own output — and traces and metrics through OpenTelemetry (<see cref="SampleTelemetry"/>).
/// </summary>
public static class SampleHost
{
    public static IHost Build(string name, Action<IServiceCollection> services, bool quiet = false)
    {
        // The samples' flags are System.CommandLine's: the host reads configuration, not the arguments.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; o.IncludeScopes = true; });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        if (quiet) builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.AddSampleTelemetry(name);
        builder.Services.AddSingleton<IGreeting, Greeting>();
        builder.Services.AddMicroNats(); // Micro__Broker=nats (and Micro__Nats__Url) puts the sample's events on NATS JetStream
        services(builder.Services);
        return builder.Build();
    }

    /// <summary>A greeter service (and whatever <paramref name="more"/> adds) on a host.</summary>
    public static IHost Greeter(Action<MicroServiceOptions> node, Action<MicroService>? more = null) =>
        Build(GreeterService.Name, s => s.AddMicroService(GreeterService.Name, service =>
        {
            service.AddGreeter();
            more?.Invoke(service);
        }, o => { o.Version = GreeterService.Version; node(o); }));

    /// <summary>The front service (Front.Hello: through the greeter, then a publish) on a host.</summary>
    public static IHost Front(Action<MicroServiceOptions> node) =>
        Build(FrontService.Name, s => s.AddMicroService(FrontService.Name, service => service.AddFront(), o => { o.Version = "1.0.0"; node(o); }));

    /// <summary>A client-only node on a host, quiet (a tool that does one thing and exits).</summary>
    public static IHost Client(string name, Action<MicroServiceOptions> node) => Build(name, s => s.AddMicroClient(node), quiet: true);
}
