using System.ComponentModel;
using System.Runtime.CompilerServices;
using Micro.Actors.Client;

namespace Micro.Actors.Contracts;

/// <summary>A contract's service, endpoint group and version, as its <see cref="MicroServiceAttribute"/> gives them.</summary>
public sealed record ContractInfo(string Service, string Group, string? Version)
{
    /// <summary>The full endpoint name of one of the contract's methods ("Greeter.Hello").</summary>
    public string Endpoint(string method) => $"{Group}.{method}";
}

/// <summary>
/// What the source generator registers for each contract (from a module initializer of the assembly that
/// declares it): its info, how to make its client and how to bind an implementation. Not for hand use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Contract
{
    /// <summary>Called by generated code: registers contract <typeparamref name="T"/>.</summary>
    public static void Register<T>(ContractInfo info, Func<IClient, CallOptions?, T> client, Action<ContractBinder<T>> bind) where T : class
    {
        ArgumentNullException.ThrowIfNull(info);
        Contract<T>.Entry = new Contract<T>.Registration(info, client, bind);
    }

    /// <summary>The info of contract <typeparamref name="T"/>, or an error that says how to make it one.</summary>
    public static ContractInfo Info<T>() where T : class => Contract<T>.Get().Info;
}

/// <summary>One contract's registration: a static per type, so a lookup is a field read.</summary>
internal static class Contract<T> where T : class
{
    internal sealed record Registration(ContractInfo Info, Func<IClient, CallOptions?, T> Client, Action<ContractBinder<T>> Bind);

    internal static volatile Registration? Entry;

    public static Registration Get()
    {
        if (Entry is { } entry) return entry;
        // A module initializer runs before the first method or static field of its assembly is used, but
        // naming an interface in a generic argument is neither: run the contract assembly's now.
        RuntimeHelpers.RunModuleConstructor(typeof(T).Module.ModuleHandle);
        return Entry ?? throw new InvalidOperationException(Missing());
    }

    private static string Missing() =>
        !typeof(T).IsInterface
            ? $"{typeof(T).Name} is not a service contract: contracts are interfaces marked [MicroService(\"name\")]"
            : typeof(T).IsDefined(typeof(MicroServiceAttribute), inherit: false)
                ? $"{typeof(T).Name} is marked [MicroService] but has no generated code: its project needs Micro.Actors' source generator " +
                  "(the Micro.Actors package brings it; a project reference needs the Micro.Actors.Generators analyzer) and no MICRO diagnostics"
                : $"{typeof(T).Name} is not a service contract: mark it [MicroService(\"name\")] (Micro.Actors.Contracts)";
}
