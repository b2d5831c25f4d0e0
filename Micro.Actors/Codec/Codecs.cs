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

    /// <summary>True for the content type whose messages travel as objects (no codec on the way).</summary>
    public static bool IsNative(string contentType) =>
        string.Equals(contentType, HyperionCodec.MediaType, StringComparison.OrdinalIgnoreCase);

    public bool TryGet(string contentType, out ICodec codec) => _byType.TryGetValue(contentType, out codec!);
}
