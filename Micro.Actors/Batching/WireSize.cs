namespace Micro.Actors.Batching;

/// <summary>What parts of a message weigh on the wire, as far as limits and batch cuts need to know.</summary>
internal static class WireSize
{
    /// <summary>What headers add to a message (UTF-8, at most 3 bytes per char, plus length prefixes).</summary>
    public static int Headers(IReadOnlyDictionary<string, string> headers)
    {
        var size = 0;
        foreach (var (key, value) in headers) size += 3 * (key.Length + value.Length) + 8;
        return size;
    }
}
