using System.ComponentModel;
using System.Runtime.CompilerServices;
using Micro.Actors.Server;
using Micro.Actors.Service;

namespace Micro.Actors.Contracts;

/// <summary>
/// Serves a contract's methods on a node: the generated binding names each method and how to invoke it;
/// this registers it as the endpoint of its shape and gets the implementation for each request. Not for hand use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ContractBinder<TContract> where TContract : class
{
    private readonly MicroService _service;
    private readonly Implementation<TContract> _implementation;

    internal ContractBinder(MicroService service, ContractInfo contract, Implementation<TContract> implementation)
    {
        _service = service;
        Contract = contract;
        _implementation = implementation;
    }

    /// <summary>The contract being served.</summary>
    public ContractInfo Contract { get; }

    /// <summary>Serves a call that takes the request's cancellation (cancelled at the caller's deadline).</summary>
    public void Call<TRequest, TResponse>(string method, Func<TContract, TRequest, CancellationToken, Task<TResponse>> invoke) =>
        _service.Handle<TRequest, TResponse>(Contract.Endpoint(method), async (request, context) =>
        {
            var implementation = _implementation.Get(context, out var owned);
            try { return await invoke(implementation, request, context.Cancellation).ConfigureAwait(true); }
            finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(true); }
        });

    /// <summary>Serves a call without a cancellation token (none is made for it).</summary>
    public void Call<TRequest, TResponse>(string method, Func<TContract, TRequest, Task<TResponse>> invoke) =>
        _service.Handle<TRequest, TResponse>(Contract.Endpoint(method), async (request, context) =>
        {
            var implementation = _implementation.Get(context, out var owned);
            try { return await invoke(implementation, request).ConfigureAwait(true); }
            finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(true); }
        });

    /// <summary>Serves a one-way endpoint.</summary>
    public void Tell<TRequest>(string method, Func<TContract, TRequest, CancellationToken, Task> invoke) =>
        _service.Handle<TRequest>(Contract.Endpoint(method), async (request, context) =>
        {
            var implementation = _implementation.Get(context, out var owned);
            try { await invoke(implementation, request, context.Cancellation).ConfigureAwait(true); }
            finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(true); }
        });

    /// <summary>Serves a one-way endpoint without a cancellation token.</summary>
    public void Tell<TRequest>(string method, Func<TContract, TRequest, Task> invoke) =>
        _service.Handle<TRequest>(Contract.Endpoint(method), async (request, context) =>
        {
            var implementation = _implementation.Get(context, out var owned);
            try { await invoke(implementation, request).ConfigureAwait(true); }
            finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(true); }
        });

    /// <summary>Serves a server stream; the token is cancelled when the caller stops reading or goes away.</summary>
    public void ServerStream<TRequest, TResponse>(string method, Func<TContract, TRequest, CancellationToken, IAsyncEnumerable<TResponse>> invoke) =>
        _service.HandleServerStream<TRequest, TResponse>(Contract.Endpoint(method), (request, context) =>
            Stream(context, implementation => invoke(implementation, request, context.Cancellation)));

    /// <summary>Serves a client stream.</summary>
    public void ClientStream<TRequest, TResponse>(string method, Func<TContract, IAsyncEnumerable<TRequest>, CancellationToken, Task<TResponse>> invoke) =>
        _service.HandleClientStream<TRequest, TResponse>(Contract.Endpoint(method), async (requests, context) =>
        {
            var implementation = _implementation.Get(context, out var owned);
            try { return await invoke(implementation, requests, context.Cancellation).ConfigureAwait(false); }
            finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(false); }
        });

    /// <summary>Serves a bidirectional stream.</summary>
    public void BidiStream<TRequest, TResponse>(string method, Func<TContract, IAsyncEnumerable<TRequest>, CancellationToken, IAsyncEnumerable<TResponse>> invoke) =>
        _service.HandleBidiStream<TRequest, TResponse>(Contract.Endpoint(method), (requests, context) =>
            Stream(context, implementation => invoke(implementation, requests, context.Cancellation)));

    /// <summary>A stream's replies, with its implementation released once the stream ends (however it ends).</summary>
    private async IAsyncEnumerable<TResponse> Stream<TResponse>(RequestContext context, Func<TContract, IAsyncEnumerable<TResponse>> open,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var implementation = _implementation.Get(context, out var owned);
        try
        {
            await foreach (var reply in open(implementation).WithCancellation(cancellationToken).ConfigureAwait(false))
                yield return reply;
        }
        finally { await Implementation.ReleaseAsync(owned).ConfigureAwait(false); }
    }
}
