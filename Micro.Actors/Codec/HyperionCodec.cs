using Akka.Actor;
using Akka.Serialization;

namespace Micro.Actors.Codec;

/// <summary>
/// application/x-hyperion: the default between .NET nodes. Calls carry the object itself and Akka
/// serializes it with the rest of the envelope; this codec turns it into bytes when bytes are needed.
/// </summary>
public sealed class HyperionCodec(ActorSystem system) : ICodec
{
    public const string MediaType = "application/x-hyperion";

    private readonly Serializer _serializer = system.Serialization.FindSerializerForType(typeof(object));

    public string ContentType => MediaType;

    public byte[] Encode(object message) => _serializer.ToBinary(message);

    public object Decode(ReadOnlySpan<byte> data, Type type)
    {
        object result;
        try { result = _serializer.FromBinary(data.ToArray(), type); }
        catch (Exception e) { throw new CodecException($"the bytes are not a Hyperion-encoded {type.Name}: {e.Message}", e); }
        return type.IsInstanceOfType(result) ? result : throw new CodecException($"the bytes hold a {result.GetType().Name}, not a {type.Name}");
    }
}
