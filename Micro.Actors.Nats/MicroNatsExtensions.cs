using Micro.Actors.Config;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.Core;

namespace Micro.Actors.Nats;

/// <summary>Makes NATS JetStream a broker a node can be given by configuration: micro.broker = nats (<c>Micro:Broker</c>).</summary>
public static class MicroNatsExtensions
{
    /// <summary>The node takes micro.broker = nats; its settings are micro.nats (micro.conf, or <c>Micro:Nats</c> under a host).</summary>
    /// <param name="connection">Changes to the connection's options beyond micro.nats.</param>
    public static MicroServiceOptions UseNats(this MicroServiceOptions options, Func<NatsOpts, NatsOpts>? connection = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Brokers[MicroSettings.NatsBroker] = _ => new NatsBroker(connection);
        return options;
    }

    /// <summary>Hosted nodes take micro.broker = nats (<c>Micro:Broker</c>, <c>Micro__Broker=nats</c>): see <see cref="UseNats"/>.</summary>
    public static IServiceCollection AddMicroNats(this IServiceCollection services, Func<NatsOpts, NatsOpts>? connection = null) =>
        services.Configure<MicroServiceOptions>(o => o.UseNats(connection));
}
