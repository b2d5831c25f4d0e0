namespace Micro.Actors.Codec;

/// <summary>The codecs a node knows, by content type.</summary>
public sealed class Codecs
{
    private readonly Dictionary<string, ICodec> _byType = new(StringComparer.OrdinalIgnoreCase);

    public Codecs(IEnumerable<ICodec> codecs)
    {
        foreach (var codec in codecs) _byType[codec.ContentType] = codec;
    }

    public IReadOnlyCollection<string> ContentTypes => _byType.Keys;

    /// <summary>True for Hyperion, whose bytes name their own type: a reply is read as whatever it is, never handed out raw.</summary>
    public static bool IsNative(string contentType) =>
        string.Equals(contentType, HyperionCodec.MediaType, StringComparison.OrdinalIgnoreCase);

    public bool TryGet(string contentType, out ICodec codec) => _byType.TryGetValue(contentType, out codec!);
}
