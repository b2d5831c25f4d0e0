namespace Micro.Actors.Codec;

/// <summary>
/// go-micro's Codec: turns messages into bytes and back for one content type. Every call and event
/// is encoded by its sender and decoded by its receiver: Hyperion between .NET nodes by default,
/// another codec when a call or event names its content type, e.g. JSON from the CLI or a gateway.
/// </summary>
public interface ICodec
{
    string ContentType { get; }
    byte[] Encode(object message);
    /// <summary>Reads <paramref name="data"/> as a <paramref name="type"/>; throws <see cref="CodecException"/> with a readable reason.</summary>
    object Decode(ReadOnlyMemory<byte> data, Type type);
}

/// <summary>Bytes that do not read as the expected type; the message says why, for the caller.</summary>
public sealed class CodecException(string message, Exception? inner = null) : Exception(message, inner);

