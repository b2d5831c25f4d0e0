using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Micro.Actors.Codec;

/// <summary>
/// application/protobuf with Google.Protobuf: messages generated from .proto files (<see cref="IMessage"/>)
/// in protobuf's own binary form, so any protobuf speaker can read them. The JSON codec reads and writes the
/// same messages in protobuf's JSON mapping, which is how <c>micro call</c> reaches a protobuf endpoint.
/// </summary>
public sealed class ProtobufCodec : ICodec
{
    public const string MediaType = "application/protobuf";
    public static readonly ProtobufCodec Instance = new();

    private static readonly ConcurrentDictionary<Type, MessageParser?> Parsers = new();

    public string ContentType => MediaType;

    public byte[] Encode(object message) => message is IMessage protobuf
        ? protobuf.ToByteArray()
        : throw new CodecException($"{message.GetType().Name} is not a protobuf message: {MediaType} carries Google.Protobuf messages generated from a .proto file");

    public object Decode(ReadOnlyMemory<byte> data, Type type)
    {
        var parser = ParserOf(type) ?? throw new CodecException($"{type.Name} is not a protobuf message: {MediaType} carries Google.Protobuf messages generated from a .proto file");
        try { return parser.ParseFrom(data.Span); }
        catch (InvalidProtocolBufferException e) { throw new CodecException($"the bytes are not a protobuf {type.Name}: {e.Message}", e); }
    }

    /// <summary>Whether <paramref name="type"/> is a generated protobuf message.</summary>
    public static bool IsMessage(Type type) => typeof(IMessage).IsAssignableFrom(type) && ParserOf(type) is not null;

    /// <summary>The generated message's descriptor (its static <c>Descriptor</c>).</summary>
    internal static MessageDescriptor? DescriptorOf(Type type) =>
        typeof(IMessage).IsAssignableFrom(type)
            ? type.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as MessageDescriptor
            : null;

    private static MessageParser? ParserOf(Type type) => Parsers.GetOrAdd(type, static t =>
        typeof(IMessage).IsAssignableFrom(t) ? t.GetProperty("Parser", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as MessageParser : null);

    /// <summary>
    /// A protobuf message's fields in its JSON mapping, as a small example of names and types
    /// (<c>{"name":"string","titles":["string"]}</c>), like <see cref="JsonCodec.Shape"/> gives for other types.
    /// </summary>
    internal static string Shape(MessageDescriptor descriptor) => ShapeOf(descriptor, 0).ToJsonString();

    private static JsonNode ShapeOf(MessageDescriptor descriptor, int depth)
    {
        var shape = new JsonObject();
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            JsonNode value = field.IsMap
                ? new JsonObject { ["string"] = Scalar(field.MessageType.FindFieldByNumber(2), depth) }
                : Scalar(field, depth);
            shape[field.JsonName] = field.IsRepeated && !field.IsMap ? new JsonArray(value) : value;
        }
        return shape;
    }

    private static JsonNode Scalar(FieldDescriptor field, int depth) => field.FieldType switch
    {
        FieldType.String => JsonValue.Create("string"),
        FieldType.Bytes => JsonValue.Create("string"), // base64 in protobuf's JSON mapping
        FieldType.Bool => JsonValue.Create("boolean"),
        FieldType.Double or FieldType.Float => JsonValue.Create("number"),
        // 64-bit integers are strings in protobuf's JSON mapping (numbers are read too)
        FieldType.Int64 or FieldType.UInt64 or FieldType.SInt64 or FieldType.Fixed64 or FieldType.SFixed64 => JsonValue.Create("string"),
        FieldType.Enum => JsonValue.Create(string.Join("|", field.EnumType.Values.Select(v => v.Name))),
        FieldType.Message or FieldType.Group => WellKnown(field.MessageType) ?? (depth < 4 ? ShapeOf(field.MessageType, depth + 1) : JsonValue.Create("object")),
        _ => JsonValue.Create("integer"),
    };

    /// <summary>The well-known types, whose JSON mapping is a plain value.</summary>
    private static JsonNode? WellKnown(MessageDescriptor type) => type.FullName switch
    {
        "google.protobuf.Timestamp" => JsonValue.Create("string (RFC 3339)"),
        "google.protobuf.Duration" => JsonValue.Create("string (e.g. 1.5s)"),
        "google.protobuf.StringValue" => JsonValue.Create("string?"),
        "google.protobuf.BoolValue" => JsonValue.Create("boolean?"),
        "google.protobuf.Int32Value" or "google.protobuf.UInt32Value" => JsonValue.Create("integer?"),
        "google.protobuf.DoubleValue" or "google.protobuf.FloatValue" => JsonValue.Create("number?"),
        "google.protobuf.Struct" or "google.protobuf.Any" => JsonValue.Create("object"),
        "google.protobuf.Value" => JsonValue.Create("any"),
        _ => null,
    };
}
