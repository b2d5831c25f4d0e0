using Akka.Actor;
using Akka.Hosting;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Hosting;

/// <summary>
/// The node's life under the host.
/// Start: the actor system (a failed bind is one clear error), Micro.Actors wired onto it, the join begun.
/// Started — once every hosted service has started, Kestrel included, so /health/ready can say 503 meanwhile —
/// the host waits until the node is Up and its registry ready, at most micro.start-timeout (then it fails, saying why).
/// Stop — after the services added later, so after ASP.NET Core has finished its requests: leave the cluster,
/// drain requests, streams and events, end the actor system.
/// </summary>
internal sealed class MicroHostedService(AkkaConfigurationBuilder builder, IServiceProvider services, ILogger<AkkaHostedService> logger,
    IHostApplicationLifetime? lifetime) : AkkaHostedService(builder, services, logger, lifetime), IHostedLifecycleService
{
    private MicroService Node => ServiceProvider.GetRequiredService<MicroService>();

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var node = Node;
        try
        {
            try { ServiceProvider.GetRequiredService<ActorSystem>(); }
            catch (Exception e) when (StartFailure.Explain(e, node.Settings) is { } clear) { throw clear; }
            await base.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            node.Failed(e); // calls made before the start hear why at once
            throw;
        }
    }

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        var node = Node;
        var timeout = Discovery.DiscoveryBootstrap.StartTimeout(node.LoadedConfig);
        // A service is ready once Up (callers pick Up nodes); a client once it knows the cluster (joining is
        // enough to call: it need not wait for the leader, which cannot move it Up while a member is unreachable).
        var ready = node.Name is null ? node.WhenReadyAsync(cancellationToken) : Task.WhenAll(node.WhenUpAsync(cancellationToken), node.WhenReadyAsync(cancellationToken));
        try { await ready.WaitAsync(timeout, cancellationToken).ConfigureAwait(false); }
        catch (TimeoutException)
        {
            var reason = node.NotJoinedReason();
            await node.StopAsync(CancellationToken.None).ConfigureAwait(false); // a node that never joined leaves at once
            throw MicroError.Timeout("micro.node", $"the node was not Up and ready within {timeout.TotalSeconds:0.###} s (Micro:StartTimeout): {reason}").ToException();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await Node.StopAsync(cancellationToken).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
