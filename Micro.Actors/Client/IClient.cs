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

    /// <summary>
    /// Opens a server stream: one <paramref name="request"/>, the replies as they come (go-micro's
    /// Stream). The stream opens on the first read, on a node chosen like a call's (another if it
    /// refuses or does not answer); it is bound to that node from then on. Reading slowly slows the
    /// handler; leaving the loop or cancelling ends the stream on both sides. Fails with a
    /// <see cref="Errors.MicroException"/>: the handler's error, 408 when nothing came for
    /// micro.streaming.idle-timeout, 503 when the node is lost.
    /// </summary>
    IAsyncEnumerable<TResponse> StreamAsync<TResponse>(string service, string endpoint, object request,
        CallOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a bidirectional stream: <paramref name="requests"/> are sent as the handler takes them
    /// (a channel's <c>ReadAllAsync()</c> makes a writer of it), the replies are read as they come.
    /// </summary>
    IAsyncEnumerable<TResponse> StreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
        CallOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Opens a client stream: sends <paramref name="requests"/> as the handler takes them, then returns its one reply.</summary>
    Task<TResponse> ClientStreamAsync<TRequest, TResponse>(string service, string endpoint, IAsyncEnumerable<TRequest> requests,
        CallOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Publishes an event on a topic (go-micro's Client.Publish); see <see cref="Broker.IBroker.PublishAsync"/>.</summary>
    Task PublishAsync(string topic, object message, Broker.PublishOptions? options = null, CancellationToken cancellationToken = default);
}
