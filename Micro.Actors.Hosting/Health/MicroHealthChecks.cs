using Akka.Cluster;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Hosting.Health;

/// <summary>
/// The node's health for orchestrators: liveness (its actor system runs: restart the process if not) and
/// readiness (it has joined, its registry is ready, it serves and is not leaving: send it work only then).
/// </summary>
public static class MicroHealthChecks
{
    /// <summary>The tag of the liveness check (<c>/health/live</c>).</summary>
    public const string Live = "live";

    /// <summary>The tag of the readiness check (<c>/health/ready</c>).</summary>
    public const string Ready = "ready";

    /// <summary>Adds "micro-live" (tagged <see cref="Live"/>) and "micro-ready" (tagged <see cref="Ready"/>).</summary>
    public static IHealthChecksBuilder AddMicroHealthChecks(this IHealthChecksBuilder builder) => builder
        .AddCheck<LivenessCheck>("micro-live", HealthStatus.Unhealthy, [Live])
        .AddCheck<ReadinessCheck>("micro-ready", HealthStatus.Unhealthy, [Ready]);

    internal sealed class LivenessCheck(MicroService node) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!node.IsStarted) return Task.FromResult(HealthCheckResult.Healthy("starting"));
            return Task.FromResult(node.System.WhenTerminated.IsCompleted
                ? HealthCheckResult.Unhealthy($"the actor system of {Describe(node)} has ended")
                : HealthCheckResult.Healthy($"the actor system of {Describe(node)} runs"));
        }
    }

    internal sealed class ReadinessCheck(MicroService node, IServiceProvider services) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(Check());

        private HealthCheckResult Check()
        {
            var stopping = services.GetService<IHostApplicationLifetime>()?.ApplicationStopping.IsCancellationRequested == true;
            if (stopping || node.IsStopping) return HealthCheckResult.Unhealthy($"{Describe(node)} is leaving the cluster");
            if (!node.IsStarted) return HealthCheckResult.Unhealthy($"{Describe(node)} has not started");
            // What the node itself has heard (Cluster.SelfMember is a view that can lag behind the events).
            var up = node.WhenUpAsync().IsCompletedSuccessfully;
            var ready = node.WhenReadyAsync().IsCompletedSuccessfully;
            if (up && Cluster.Get(node.System).SelfMember.Status is MemberStatus.Exiting or MemberStatus.Down or MemberStatus.Removed)
                return HealthCheckResult.Unhealthy($"{Describe(node)} has left the cluster");
            // A service serves once Up; a client can call as soon as it knows the cluster.
            if (!up && (node.Name is not null || !ready)) return HealthCheckResult.Unhealthy($"{Describe(node)}: {node.NotJoinedReason()}");
            return ready
                ? HealthCheckResult.Healthy($"{Describe(node)} is {(up ? "Up" : "joining")} and its registry ready")
                : HealthCheckResult.Unhealthy($"{Describe(node)} is Up; its registry is still fetching the nodes it has heard of");
        }
    }

    private static string Describe(MicroService node) => $"{node.Name ?? "client"} node at {(node.Address is { Length: > 0 } a ? a : "(not listening yet)")}";
}
