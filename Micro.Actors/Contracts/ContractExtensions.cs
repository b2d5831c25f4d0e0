using Micro.Actors.Client;
using Micro.Actors.Service;

namespace Micro.Actors.Contracts;

/// <summary>Typed clients and server bindings of service contracts (interfaces marked <see cref="MicroServiceAttribute"/>).</summary>
public static class ContractExtensions
{
    /// <summary>
    /// A typed client of contract <typeparamref name="T"/>: each method calls its endpoint on the contract's
    /// service, with <paramref name="options"/> (and the contract's version as the default filter). Cheap to make.
    /// </summary>
    public static T For<T>(this IClient client, CallOptions? options = null) where T : class
    {
        ArgumentNullException.ThrowIfNull(client);
        return Contract<T>.Get().Client(client, options);
    }

    /// <summary>The same typed client with other options for the calls made through it (e.g. <c>greeter.With(new() { Timeout = … }).Hello(…)</c>).</summary>
    public static T With<T>(this T client, CallOptions options) where T : class =>
        client is ContractClient typed
            ? (T)(object)typed.Copy(options)
            : throw new ArgumentException($"{client?.GetType().Name ?? "null"} is not a typed client made by For<{typeof(T).Name}>() or from DI", nameof(client));

    /// <summary>
    /// Serves contract <typeparamref name="TContract"/> with <typeparamref name="TImplementation"/>, made for each
    /// request: from the request's DI scope when the class is registered there, else with constructor injection
    /// from that scope (disposed after the request); on a node without DI, with its parameterless constructor.
    /// </summary>
    public static MicroService Implement<TContract, TImplementation>(this MicroService service)
        where TContract : class where TImplementation : class, TContract
    {
        ArgumentNullException.ThrowIfNull(service);
        return Bind(service, Implementation<TContract>.Of<TImplementation>(service.Provider));
    }

    /// <summary>Serves contract <typeparamref name="TContract"/> with one <paramref name="implementation"/> for every request (it must be safe to call at once from many).</summary>
    public static MicroService Implement<TContract>(this MicroService service, TContract implementation) where TContract : class
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(implementation);
        return Bind(service, Implementation<TContract>.Of(implementation));
    }

    private static MicroService Bind<TContract>(MicroService service, Implementation<TContract> implementation) where TContract : class
    {
        var contract = Contract<TContract>.Get();
        var info = contract.Info;
        if (service.Name is null)
            throw new InvalidOperationException($"A client-only node serves no contracts: create the {info.Service} service (MicroService.Create(\"{info.Service}\"))");
        if (service.Name != info.Service)
            throw new ArgumentException($"{typeof(TContract).Name} is a contract of the service {info.Service}, but this node is {service.Name}: " +
                $"its typed clients would never reach it; implement it on a node named {info.Service}");
        if (info.Version is { } version && service.Version != version)
            throw new ArgumentException($"{typeof(TContract).Name} is version {version}, but this node runs version {service.Version}: its typed clients " +
                $"call only {version}; set the node's version (MicroServiceOptions.Version, or Micro:Version in configuration) to {version}");
        contract.Bind(new ContractBinder<TContract>(service, info, implementation));
        return service;
    }
}
