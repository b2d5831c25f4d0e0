using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Serialization;

namespace Micro.Actors.Codec;

/// <summary>Hands a node's <see cref="TypeAllowList"/> to its serializer (set by MicroService when it creates the node).</summary>
internal sealed class TypeAllowListSetup(TypeAllowList allowList) : Setup
{
    public TypeAllowList AllowList { get; } = allowList;
}

/// <summary>
/// Hyperion with an allow-list: Akka's serializer for every message of a Micro.Actors node.
/// Unsafe types stay disallowed (Hyperion's deny-list), and only types the node's
/// <see cref="TypeAllowList"/> accepts are built from bytes.
/// <para>Why a subclass: in Akka.Serialization.Hyperion 1.5.73 the type filter of
/// <c>HyperionSerializerSetup</c> reaches the serializer's public settings but not the Hyperion
/// serializer it builds, and HOCON <c>allowed-types</c> refuses assembly-qualified names on the
/// sending side. Handing the filter to the base constructor is the one way that works.</para>
/// </summary>
internal sealed class SafeHyperionSerializer : HyperionSerializer
{
    /// <summary>The setting that lists more allowed assemblies, namespaces or types.</summary>
    public const string AllowedTypesSetting = "micro.serialization.allowed-types";

    public SafeHyperionSerializer(ExtendedActorSystem system)
        : this(system, Akka.Configuration.Config.Empty, AllowListOf(system)) { }

    public SafeHyperionSerializer(ExtendedActorSystem system, Akka.Configuration.Config config)
        : this(system, config, AllowListOf(system)) { }

    private SafeHyperionSerializer(ExtendedActorSystem system, Akka.Configuration.Config config, TypeAllowList allowList)
        : base(system, (config.IsNullOrEmpty() ? HyperionSerializerSettings.Default : HyperionSerializerSettings.Create(config))
            .WithDisallowUnsafeType(true).WithTypeFilter(allowList)) =>
        AllowList = allowList;

    /// <summary>What this serializer builds from bytes; code that trusts a type may add it.</summary>
    public TypeAllowList AllowList { get; }

    /// <summary>The node's allow-list: the one MicroService set up, else one read from HOCON.</summary>
    private static TypeAllowList AllowListOf(ActorSystem system)
    {
        var setup = system.Settings.Setup.Get<TypeAllowListSetup>();
        if (setup.HasValue) return setup.Value.AllowList;
        var config = system.Settings.Config;
        return new TypeAllowList(config.HasPath(AllowedTypesSetting) ? config.GetStringList(AllowedTypesSetting) : []);
    }
}
