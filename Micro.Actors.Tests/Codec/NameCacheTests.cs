using System.Text;
using Micro.Actors.Client;
using Micro.Actors.Codec;

namespace Micro.Actors.Tests.Codec;

/// <summary>The per-message savings on the call path: names decoded once, ids made without the OS's random source.</summary>
public sealed class NameCacheTests
{
    [Fact]
    public void A_repeated_name_is_the_same_string_and_every_name_reads_back_as_itself()
    {
        var first = NameCache.Get("Greeter.Hello"u8);
        Assert.Equal("Greeter.Hello", first);
        Assert.Same(first, NameCache.Get("Greeter.Hello"u8));

        // Many names share 256 slots: whatever was cached in a slot, each reads back as itself.
        var names = Enumerable.Range(0, 2_000).Select(i => $"Service{i}.Endpoint{i % 7}").ToList();
        foreach (var round in Enumerable.Range(0, 2))
            foreach (var name in names)
                Assert.Equal(name, NameCache.Get(Encoding.UTF8.GetBytes(name)));

        // Not ASCII, or long: decoded as usual, never cached.
        Assert.Equal("grüße", NameCache.Get(Encoding.UTF8.GetBytes("grüße")));
        Assert.NotSame(NameCache.Get(Encoding.UTF8.GetBytes("grüße")), NameCache.Get(Encoding.UTF8.GetBytes("grüße")));
        var longName = new string('x', 500);
        Assert.Equal(longName, NameCache.Get(Encoding.UTF8.GetBytes(longName)));
        Assert.Equal("", NameCache.Get([]));
    }

    [Fact]
    public void Request_ids_are_32_hex_characters_and_never_repeat()
    {
        var ids = Enumerable.Range(0, 100_000).AsParallel().Select(_ => RequestIds.Next()).ToList();
        Assert.All(ids.Take(100), id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
