using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using System.Reflection;
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
            .WithDisallowUnsafeType(true).WithTypeFilter(allowList))
    {
        AllowList = allowList;
        _hyperion = typeof(HyperionSerializer).GetField("_serializer", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(this) as Hyperion.Serializer;
    }

    /// <summary>
    /// The Hyperion serializer the base class built (a private field of Akka.Serialization.Hyperion 1.5.73): writing
    /// through it into a stream this thread keeps saves the new stream and its regrowth the base makes per message.
    /// Null if a later version renames it: then the base writes.
    /// </summary>
    private readonly Hyperion.Serializer? _hyperion;

    [ThreadStatic] private static MemoryStream? _stream;

    public override byte[] ToBinary(object obj)
    {
        if (_hyperion is null) return base.ToBinary(obj);
        // Taken while in use: a surrogate that serializes a nested message on this thread gets a stream of its own.
        var stream = _stream ?? new MemoryStream(1024);
        _stream = null;
        stream.SetLength(0);
        _hyperion.Serialize(obj, stream);
        var bytes = stream.ToArray();
        if (stream.Capacity <= 64 * 1024) _stream = stream; // a big message's buffer is not kept
        return bytes;
    }

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
