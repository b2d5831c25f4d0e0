using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;

namespace Micro.Actors.Codec;

/// <summary>
/// application/json with System.Text.Json: camelCase names out (<c>{"name":"Ann"}</c>), any case in;
/// missing constructor parameters and nulls in non-nullable fields are errors, not silent defaults.
/// </summary>
public sealed class JsonCodec : ICodec
{
    public const string MediaType = "application/json";
    public static readonly JsonCodec Instance = new();

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    public string ContentType => MediaType;

    /// <summary>Protobuf messages in protobuf's JSON mapping (lowerCamelCase names, 64-bit integers as strings, enums by name), every field shown.</summary>
    private static readonly Google.Protobuf.JsonFormatter ProtobufOut = new(Google.Protobuf.JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly Google.Protobuf.JsonParser ProtobufIn = new(Google.Protobuf.JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public byte[] Encode(object message) => message is Google.Protobuf.IMessage protobuf
        ? System.Text.Encoding.UTF8.GetBytes(ProtobufOut.Format(protobuf))
        : JsonSerializer.SerializeToUtf8Bytes(message, message.GetType(), Options);

    public object Decode(ReadOnlyMemory<byte> memory, Type type)
    {
        var data = memory.Span;
        if (ProtobufCodec.DescriptorOf(type) is { } descriptor) return DecodeProtobuf(data, type, descriptor);
        try
        {
            return JsonSerializer.Deserialize(data, type, Options)
                ?? throw new CodecException($"JSON null is not a {type.Name}");
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path}";
            throw new CodecException(IsWellFormed(data)
                ? $"the JSON does not fit {type.Name}{where}: {FirstSentence(e.Message)}"
                : $"malformed JSON{where}: {FirstSentence(e.Message)}", e);
        }
        catch (NotSupportedException e)
        {
            throw new CodecException($"{type.Name} cannot be read from JSON: {FirstSentence(e.Message)}", e);
        }
    }

    private static object DecodeProtobuf(ReadOnlySpan<byte> data, Type type, Google.Protobuf.Reflection.MessageDescriptor descriptor)
    {
        try { return ProtobufIn.Parse(System.Text.Encoding.UTF8.GetString(data), descriptor); }
        catch (Exception e) when (e is Google.Protobuf.InvalidJsonException or Google.Protobuf.InvalidProtocolBufferException or FormatException)
        {
            throw new CodecException(IsWellFormed(data)
                ? $"the JSON does not fit the protobuf {type.Name}: {FirstSentence(e.Message)}"
                : $"malformed JSON: {FirstSentence(e.Message)}", e);
        }
    }

    /// <summary>
    /// The fields of <paramref name="type"/> as a small JSON example of names and types, e.g.
    /// <c>{"name":"string","count":"integer"}</c>, so tools can show and build requests.
    /// </summary>
    public static string Shape(Type type)
    {
        if (ProtobufCodec.DescriptorOf(type) is { } descriptor) return ProtobufCodec.Shape(descriptor);
        var schema = Options.GetJsonSchemaAsNode(type, new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        return ShapeOf(schema, 0).ToJsonString();
    }

    private static JsonNode ShapeOf(JsonNode? schema, int depth)
    {
        if (schema is not JsonObject o) return JsonValue.Create("any")!;
        var type = o["type"] switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonArray a => string.Join("|", a.Select(x => x!.GetValue<string>())),
            _ => "any",
        };
        var nullable = type.Contains("|null", StringComparison.Ordinal) || type.StartsWith("null|", StringComparison.Ordinal);
        var main = type.Replace("|null", "").Replace("null|", "");
        if (main == "object" && o["properties"] is JsonObject props && depth < 4)
        {
            var shape = new JsonObject();
            foreach (var (name, value) in props) shape[name] = ShapeOf(value, depth + 1);
            return shape;
        }
        if (main == "array" && depth < 4) return new JsonArray(ShapeOf(o["items"], depth + 1));
        return JsonValue.Create(nullable ? main + "?" : main)!;
    }

    private static bool IsWellFormed(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        try
        {
            while (reader.Read()) { }
            return true;
        }
        catch (JsonException) { return false; }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message.TrimEnd('.');
    }
}
