namespace Micro.Actors.Codec;

/// <summary>The codecs a node knows, by content type.</summary>
internal sealed class Codecs
{
    private readonly Dictionary<string, ICodec> _byType = new(StringComparer.OrdinalIgnoreCase);

    public Codecs(IEnumerable<ICodec> codecs)
    {
        foreach (var codec in codecs) _byType[codec.ContentType] = codec;
    }

    public IReadOnlyCollection<string> ContentTypes => _byType.Keys;

    /// <summary>The content types of the codecs that come with the library (micro.codecs chooses among them).</summary>
    internal static readonly IReadOnlyList<string> BuiltIn = [HyperionCodec.MediaType, JsonCodec.MediaType, ProtobufCodec.MediaType];

    /// <summary>The built-in codecs named in <paramref name="contentTypes"/>, then <paramref name="more"/>.</summary>
    internal static Codecs Of(IEnumerable<string> contentTypes, Akka.Actor.ActorSystem system, IEnumerable<ICodec> more) =>
        new([.. contentTypes.Select(t => t.ToLowerInvariant()).Distinct().SelectMany<string, ICodec>(t => t switch
        {
            HyperionCodec.MediaType => [new HyperionCodec(system)],
            JsonCodec.MediaType => [JsonCodec.Instance],
            ProtobufCodec.MediaType => [ProtobufCodec.Instance],
            _ => [],
        }), .. more]);

    /// <summary>True for Hyperion, whose bytes name their own type: a reply is read as whatever it is, never handed out raw.</summary>
    public static bool IsNative(string contentType) =>
        string.Equals(contentType, HyperionCodec.MediaType, StringComparison.OrdinalIgnoreCase);

    public bool TryGet(string contentType, out ICodec codec) => _byType.TryGetValue(contentType, out codec!);
}
