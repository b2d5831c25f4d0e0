using System.ComponentModel;
using Micro.Actors.Client;

namespace Micro.Actors.Contracts;

/// <summary>
/// The base of a generated typed client: each method of the contract is one call of <see cref="IClient"/>
/// on the contract's service and endpoint, with the client's options. Not for hand use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class ContractClient
{
    private readonly string _service;
    private readonly CallOptions? _options;

    /// <summary>Made by the generated client.</summary>
    protected ContractClient(IClient client, ContractInfo contract, CallOptions? options)
    {
        ArgumentNullException.ThrowIfNull(client);
        Client = client;
        _service = contract.Service;
        Contract = contract;
        Given = options;
        _options = ContractOptions.For(contract, options);
    }

    /// <summary>The client the calls go through.</summary>
    protected IClient Client { get; }

    /// <summary>The contract this client calls.</summary>
    public ContractInfo Contract { get; }

    /// <summary>The options this client was made with (before the contract's version filter).</summary>
    public CallOptions? Given { get; }

    /// <summary>The same client with other options (see <see cref="ContractExtensions.With{T}(T, CallOptions)"/>).</summary>
    protected abstract ContractClient WithOptions(CallOptions? options);

    internal ContractClient Copy(CallOptions? options) => WithOptions(options);

    /// <summary>A call (request/reply).</summary>
    protected Task<TResponse> Call<TResponse>(string endpoint, object request, CancellationToken cancellationToken) =>
        Client.CallAsync<TResponse>(_service, endpoint, request, _options, cancellationToken);

    /// <summary>A one-way message.</summary>
    protected Task Tell(string endpoint, object message, CancellationToken cancellationToken) =>
        Client.TellAsync(_service, endpoint, message, _options, cancellationToken);

    /// <summary>A server stream.</summary>
    protected IAsyncEnumerable<TResponse> ServerStream<TResponse>(string endpoint, object request, CancellationToken cancellationToken) =>
        Client.StreamAsync<TResponse>(_service, endpoint, request, _options, cancellationToken);

    /// <summary>A client stream.</summary>
    protected Task<TResponse> ClientStream<TRequest, TResponse>(string endpoint, IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken) =>
        Client.ClientStreamAsync<TRequest, TResponse>(_service, endpoint, requests, _options, cancellationToken);

    /// <summary>A bidirectional stream.</summary>
    protected IAsyncEnumerable<TResponse> BidiStream<TRequest, TResponse>(string endpoint, IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken) =>
        Client.StreamAsync<TRequest, TResponse>(_service, endpoint, requests, _options, cancellationToken);

    /// <inheritdoc />
    public override string ToString() => $"client of {Contract.Service} ({Contract.Group}{(Contract.Version is { } v ? " " + v : "")})";
}

/// <summary>The options a typed client calls with: the caller's, with the contract's version as the filter when the caller chose no nodes itself.</summary>
internal static class ContractOptions
{
    public static CallOptions? For(ContractInfo contract, CallOptions? given)
    {
        if (contract.Version is not { } version) return given;
        if (given is { Address: not null } || given is { Filters.Count: > 0 }) return given;
        return (given ?? CallOptions.Default) with { Filters = [Selector.Filters.Version(version)] };
    }
}
