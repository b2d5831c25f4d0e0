using System.Text.RegularExpressions;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Readme;

/// <summary>The README cannot drift from the code: its C# is compiled code, and its settings table lists every setting.</summary>
public sealed partial class ReadmeTests
{
    private static readonly string Root = ProcessRunner.RepositoryRoot;
    private static string Readme => File.ReadAllText(Path.Combine(Root, "README.md"));

    /// <summary>The README and each package's own (shown on its package page).</summary>
    public static TheoryData<string> Readmes => new() { "README.md", "Micro.Actors/README.md", "Micro.Actors.Hosting/README.md", "Micro.Actors.AspNetCore/README.md" };

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_csharp_block_is_the_text_of_compiled_snippets(string readme)
    {
        var regions = Regions(File.ReadAllText(Path.Combine(Root, "Micro.Actors.Tests", "Readme", "Snippets.cs")));
        var blocks = CSharpBlock().Matches(File.ReadAllText(Path.Combine(Root, readme)).Replace("\r\n", "\n"));
        Assert.NotEmpty(blocks);
        foreach (Match block in blocks)
        {
            var names = block.Groups["names"].Value;
            Assert.True(names.Length > 0, $"a ```csharp block has no <!-- snippet: name --> line before it:\n{block.Groups["code"].Value}");
            var expected = string.Join("\n\n", names.Split(',', StringSplitOptions.TrimEntries).Select(n =>
                regions.TryGetValue(n, out var code) ? code : throw new Xunit.Sdk.XunitException($"no #region {n} in Readme/Snippets.cs")));
            Assert.True(expected == block.Groups["code"].Value.TrimEnd('\n'),
                $"{readme}'s snippet '{names}' differs from Readme/Snippets.cs; it should read:\n{expected}");
        }
    }

    [Fact]
    public void The_configuration_table_lists_every_setting_of_micro_conf()
    {
        var config = Micro.Actors.Config.MicroConfig.Default;
        var missing = Leaves(config.GetValue("micro"), "micro").Where(path => !Readme.Contains($"`{path}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"README's configuration table does not list: {string.Join(", ", missing)}");
    }

    private static IEnumerable<string> Leaves(Akka.Configuration.Hocon.HoconValue value, string path) =>
        value.IsObject() ? value.GetObject().Items.SelectMany(kv => Leaves(kv.Value, $"{path}.{kv.Key}")) : [path];

    /// <summary>The #region blocks of a file, each dedented.</summary>
    private static Dictionary<string, string> Regions(string source)
    {
        var regions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in Region().Matches(source.Replace("\r\n", "\n")))
        {
            var lines = m.Groups["code"].Value.TrimEnd('\n', ' ').Split('\n');
            var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
            regions[m.Groups["name"].Value] = string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
        }
        return regions;
    }

    [GeneratedRegex(@"(?:<!-- snippet: (?<names>[^>]+?) -->\n)?```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"#region (?<name>[\w-]+)\n(?<code>.*?)[ \t]*#endregion", RegexOptions.Singleline)]
    private static partial Regex Region();
}
