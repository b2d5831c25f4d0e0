using System.Runtime.InteropServices;
using Akka.Actor;
using Hyperion.Internal;

namespace Micro.Actors.Codec;

/// <summary>
/// application/x-hyperion: the default between .NET nodes. A message is encoded by the caller and
/// travels as bytes inside the envelope, so its size is known before it is sent and a type this
/// node does not allow is a clear error here rather than a message the transport drops.
/// </summary>
public sealed class HyperionCodec : ICodec
{
    public const string MediaType = "application/x-hyperion";

    private readonly SafeHyperionSerializer _serializer;

    public HyperionCodec(ActorSystem system)
    {
        _serializer = system.Serialization.FindSerializerForType(typeof(object)) as SafeHyperionSerializer
            ?? throw new InvalidOperationException(
                $"System.Object must be bound to {typeof(SafeHyperionSerializer).FullName} (config/micro.conf does this)");
    }

    /// <summary>What this node builds from bytes.</summary>
    internal TypeAllowList AllowList => _serializer.AllowList;

    public string ContentType => MediaType;

    public byte[] Encode(object message)
    {
        try { return _serializer.ToBinary(message); }
        catch (EvilDeserializationException e) { throw NotAllowed(e); }
    }

    public object Decode(ReadOnlyMemory<byte> data, Type type)
    {
        // The body is usually a whole array already: no copy on the hot path.
        var bytes = MemoryMarshal.TryGetArray(data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : data.ToArray();
        object result;
        try { result = _serializer.FromBinary(bytes, type); }
        catch (Exception e) when (Evil(e) is { } evil) { throw NotAllowed(evil); }
        catch (Exception e) { throw new CodecException($"the bytes are not a Hyperion-encoded {type.Name}: {e.InnerException?.Message ?? e.Message}", e); }
        return type.IsInstanceOfType(result) ? result : throw new CodecException($"the bytes hold a {result.GetType().Name}, not a {type.Name}");
    }

    /// <summary>The type refusal behind a failure, however deep Hyperion wrapped it (it does for nested types).</summary>
    private static EvilDeserializationException? Evil(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is EvilDeserializationException evil) return evil;
        return null;
    }

    private static CodecException NotAllowed(EvilDeserializationException e) => new(
        e is UserEvilDeserializationException
            ? $"type {e.BadTypeString} is not on this node's allow-list; if it is a message type, add its assembly or namespace to {SafeHyperionSerializer.AllowedTypesSetting}"
            : $"type {e.BadTypeString} is never deserialized (a known-dangerous type)", e);
}
