using System.Globalization;
using System.Text;
using Akka.Configuration;
using Micro.Actors.Config;
using Microsoft.Extensions.Configuration;

namespace Micro.Actors.Hosting.Configuration;

/// <summary>
/// The <c>Micro</c> section of <see cref="IConfiguration"/> (appsettings.json, <c>Micro__Port</c> variables,
/// <c>--Micro:Port=…</c> arguments) laid over the HOCON defaults of config/micro.conf by one rule:
/// <c>Micro:Client:RequestTimeout</c> is <c>micro.client.request-timeout</c>. So every setting has its key in
/// each source, and Micro.Actors checks all of them in one place (<see cref="MicroSettings"/>).
/// <c>Micro:Metadata:*</c> are the service's labels. Durations take HOCON's form (<c>5s</c>, <c>500ms</c>) or
/// .NET's (<c>00:00:05</c>).
/// </summary>
public sealed class MicroConfiguration
{
    public const string SectionName = "Micro";

    private readonly Dictionary<string, (string Key, string Value)> _sources = new(StringComparer.Ordinal);
    private readonly List<string> _problems = [];

    private MicroConfiguration() { }

    /// <summary>The section as HOCON (empty when there is none).</summary>
    public string Hocon { get; private set; } = "";

    /// <summary>The service's labels (<c>Micro:Metadata:region = eu</c>).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys that are no setting, or values that cannot be one (each names the key and says what it takes).</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Reads <c>Micro</c> of <paramref name="configuration"/>.</summary>
    public static MicroConfiguration Read(IConfiguration configuration)
    {
        var result = new MicroConfiguration();
        var hocon = new StringBuilder();
        foreach (var child in configuration.GetSection(SectionName).GetChildren()) result.Add(child, "micro", hocon);
        result.Hocon = hocon.ToString();
        return result;
    }

    /// <summary>The configuration key and value a HOCON setting (micro.port) came from, if it came from here.</summary>
    public bool TryGetSource(string hoconPath, out string key, out string value)
    {
        var found = _sources.TryGetValue(hoconPath, out var source);
        (key, value) = source;
        return found;
    }

    /// <summary>Whether the configuration gives any setting under <paramref name="hoconPrefix"/> (micro.tls).</summary>
    public bool Sets(string hoconPrefix) => _sources.Keys.Any(k => k == hoconPrefix || k.StartsWith(hoconPrefix + ".", StringComparison.Ordinal));

    /// <summary>A bad setting as its source names it: <c>Bad setting Micro:Port = 'http': …</c>.</summary>
    public string Describe(MicroConfigException e) =>
        TryGetSource(e.Setting, out var key, out var value) ? $"Bad setting {key} = '{value}': {e.Problem}" : e.Message;

    private void Add(IConfigurationSection section, string parent, StringBuilder hocon)
    {
        if (parent == "micro" && section.Key.Equals("Metadata", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var label in section.GetChildren())
                if (label.Value is { } v) Metadata[label.Key] = v;
            return;
        }
        var path = $"{parent}.{Kebab(section.Key)}";
        if (!MicroConfig.Default.HasPath(path))
        {
            _problems.Add($"{section.Path} is not a Micro.Actors setting (it would be {path}); the settings are listed in the README's configuration table");
            return;
        }
        var children = section.GetChildren().ToList();
        if (children.Count > 0 && children.All(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            // Micro:SeedNodes:0, Micro:SeedNodes:1 … is a list.
            var items = children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)).Select(c => c.Value ?? "").ToList();
            hocon.Append(path).Append(" = [").Append(string.Join(", ", items.Select(Quote))).AppendLine("]");
            _sources[path] = (section.Path, string.Join(", ", items));
            return;
        }
        if (children.Count > 0)
        {
            foreach (var child in children) Add(child, path, hocon);
            return;
        }
        if (section.Value is not { } value) return;
        if (IsList(path))
        {
            // One value for a list (Micro__SeedNodes=h:p,h:p, as MICRO_SEED_NODES takes it).
            var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            hocon.Append(path).Append(" = [").Append(string.Join(", ", items.Select(Quote))).AppendLine("]");
        }
        else hocon.Append(path).Append(" = ").AppendLine(Quote(IsDuration(path) ? Duration(value) : value));
        _sources[path] = (section.Path, value);
    }

    private static bool IsList(string path)
    {
        try { return MicroConfig.Default.GetValue(path)?.Values.Any(v => v is Akka.Configuration.Hocon.HoconArray) == true; } // IsArray() says false for []
        catch (Exception) { return false; }
    }

    /// <summary>A setting whose default is a HOCON duration ("5s").</summary>
    private static bool IsDuration(string path)
    {
        try
        {
            var text = MicroConfig.Default.GetString(path);
            return text.Length > 0 && char.IsLetter(text[^1]) && char.IsDigit(text[0]) && MicroConfig.Default.GetTimeSpan(path, null, allowInfinite: false) >= TimeSpan.Zero;
        }
        catch (Exception) { return false; }
    }

    /// <summary>.NET's "00:00:05" as HOCON's "5000ms"; anything else as it is (HOCON checks it).</summary>
    private static string Duration(string value) =>
        value.Contains(':') && TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var span)
            ? $"{(long)span.TotalMilliseconds}ms"
            : value;

    /// <summary>PascalCase as kebab-case: RequestTimeout is request-timeout (kebab-case stays as it is).</summary>
    internal static string Kebab(string key)
    {
        var text = new StringBuilder(key.Length + 4);
        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(key[i - 1]) || char.IsDigit(key[i - 1]) || (i + 1 < key.Length && char.IsLower(key[i + 1]) && char.IsUpper(key[i - 1]))))
                text.Append('-');
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
