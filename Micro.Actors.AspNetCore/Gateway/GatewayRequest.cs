using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Micro.Actors.Errors;
using Microsoft.AspNetCore.Http;

namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// What an HTTP request asks of a call, read without touching the cluster: its deadline, its metadata,
/// whether it may pass. Each problem is the caller's, so each is a 400 (or 401/403) that says what to send.
/// </summary>
internal static class GatewayRequest
{
    public const string Id = "micro.api";
    public const string TimeoutHeader = "Micro-Timeout";
    private const string MetadataPrefix = "Micro-";

    /// <summary>The call's deadline: <c>Micro-Timeout</c> (<c>250</c> ms, <c>250ms</c>, <c>2s</c>, <c>1m</c>, <c>1h</c>), else the default.</summary>
    public static TimeSpan? Timeout(IHeaderDictionary headers, MicroApiOptions options, out MicroError? error)
    {
        error = null;
        if (!headers.TryGetValue(TimeoutHeader, out var values) || values.Count == 0) return options.DefaultTimeout;
        var text = values[0]!.Trim();
        var (number, unit) = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (text[..^2], 1.0)
            : text.EndsWith('s') || text.EndsWith('S') ? (text[..^1], 1000.0)
            : text.EndsWith('m') || text.EndsWith('M') ? (text[..^1], 60_000.0)
            : text.EndsWith('h') || text.EndsWith('H') ? (text[..^1], 3_600_000.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || double.IsInfinity(value))
        {
            error = MicroError.BadRequest(Id, $"{TimeoutHeader} '{text}' is not a duration: give milliseconds (250) or a number with ms, s, m or h (250ms, 2s, 1m)");
            return null;
        }
        var timeout = TimeSpan.FromMilliseconds(Math.Min(value * unit, TimeSpan.MaxValue.TotalMilliseconds / 2));
        if (timeout > options.MaxTimeout)
        {
            error = MicroError.BadRequest(Id, $"{TimeoutHeader} {text} is longer than this gateway allows ({options.MaxTimeout.TotalSeconds:0.###} s)");
            return null;
        }
        return timeout;
    }

    /// <summary>The call's metadata: every <c>Micro-*</c> header but the deadline, and the configured ones, names in Title-Case.</summary>
    public static Dictionary<string, string> Metadata(IHeaderDictionary headers, MicroApiOptions options)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in headers)
        {
            var passes = name.StartsWith(MetadataPrefix, StringComparison.OrdinalIgnoreCase) && !name.Equals(TimeoutHeader, StringComparison.OrdinalIgnoreCase)
                || options.MetadataHeaders.Any(h => h.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (passes) metadata[TitleCase(name)] = values.ToString(); // HTTP/2 sends names in lower case: one spelling for the service
        }
        return metadata;
    }

    /// <summary>Null when the request may pass: no keys configured, or it carries one of them.</summary>
    public static MicroError? Refusal(HttpRequest request, MicroApiOptions options)
    {
        if (options.ApiKeys.Count == 0) return null;
        string? given = null;
        if (request.Headers.Authorization.ToString() is { Length: > 7 } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = auth[7..].Trim();
        else if (request.Headers.TryGetValue("X-Api-Key", out var key)) given = key.ToString();
        if (string.IsNullOrEmpty(given))
            return MicroError.New(Id, 401, "this gateway needs an API key: send Authorization: Bearer KEY or X-Api-Key: KEY");
        var bytes = Encoding.UTF8.GetBytes(given);
        // Compared in constant time, so the answer's timing says nothing about how much of a key was right.
        return options.ApiKeys.Any(k => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k), bytes))
            ? null
            : MicroError.New(Id, 403, "the API key is not one this gateway accepts");
    }

    private static string TitleCase(string name) =>
        string.Join('-', name.Split('-').Select(part => part.Length == 0 ? part : char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant()));
}
