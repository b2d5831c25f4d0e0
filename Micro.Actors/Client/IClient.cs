namespace Micro.Actors.Client;

/// <summary>go-micro's Client: calls to services found through the registry.</summary>
public interface IClient
{
    /// <summary>
    /// Calls <paramref name="endpoint"/> ("Greeter.Hello") on one node of <paramref name="service"/>
    /// and returns its reply. Fails with a <see cref="Errors.MicroException"/> carrying the error:
    /// 404 unknown service or endpoint, 408 deadline, 503 no node left, or the handler's own error.
    /// </summary>
    Task<TResponse> CallAsync<TResponse>(string service, string endpoint, object request,
        CallOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends <paramref name="message"/> to one node of the service, fire-and-forget. Completes once it
    /// is handed to a node; fails if no node can take it (unknown service or endpoint, nobody reachable).
    /// </summary>
    Task TellAsync(string service, string endpoint, object message,
        CallOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Publishes an event on a topic (go-micro's Client.Publish); see <see cref="Broker.IBroker.PublishAsync"/>.</summary>
    Task PublishAsync(string topic, object message, Broker.PublishOptions? options = null, CancellationToken cancellationToken = default);
}
