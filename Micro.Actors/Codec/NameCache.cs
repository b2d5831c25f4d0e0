using System.Text;

namespace Micro.Actors.Codec;

/// <summary>
/// The strings an envelope repeats on every message (service, endpoint, content type, topic), decoded once and then
/// reused: a slot per hash of the bytes, checked byte for byte, so a cache miss only costs the decode it replaces.
/// Bounded (256 slots of short ASCII names); anything else is decoded as usual.
/// </summary>
internal static class NameCache
{
    private const int MaxLength = 128;
    private static readonly string?[] Slots = new string?[256];

    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxLength) return Encoding.UTF8.GetString(utf8);
        var hash = (uint)utf8.Length;
        foreach (var b in utf8) hash = (hash ^ b) * 16777619;
        ref var slot = ref Slots[hash & 255];
        var known = Volatile.Read(ref slot);
        if (known is not null && Same(known, utf8)) return known;
        var name = Encoding.UTF8.GetString(utf8);
        if (Ascii.IsValid(utf8)) Volatile.Write(ref slot, name);
        return name;
    }

    private static bool Same(string known, ReadOnlySpan<byte> utf8)
    {
        if (known.Length != utf8.Length) return false;
        for (var i = 0; i < utf8.Length; i++)
            if (known[i] != utf8[i]) return false;
        return true;
    }
}
