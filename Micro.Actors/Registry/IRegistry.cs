namespace Micro.Actors.Registry;

/// <summary>
/// go-micro's Registry. Registration is joining the cluster, deregistration is leaving it;
/// this interface is the read side.
/// </summary>
public interface IRegistry
{
    /// <summary>Every service with at least one node, sorted by name.</summary>
    Task<IReadOnlyList<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default);

    /// <summary>The service's nodes, or null when no node of it is known.</summary>
    Task<ServiceInfo?> GetServiceAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Changes as they happen. Starts with an <see cref="RegistryEventKind.Added"/> for every node
    /// already known, then reports joins, status changes and departures until cancelled.
    /// </summary>
    IAsyncEnumerable<RegistryEvent> WatchAsync(CancellationToken cancellationToken = default);
}
