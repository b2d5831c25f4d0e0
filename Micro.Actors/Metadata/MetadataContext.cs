using System.Collections.Immutable;

namespace Micro.Actors.Metadata;

/// <summary>
/// go-micro's context metadata: the headers of the request (or event) a handler is serving flow, by
/// themselves, into the calls and publishes it makes, so a trace id or a tenant id crosses every hop
/// without each handler copying it. It is an ambient value (<see cref="AsyncLocal{T}"/>), so it follows
/// <c>await</c>s; headers given in <c>CallOptions.Headers</c> win over it, and
/// <c>CallOptions.PropagateMetadata = false</c> leaves it off one call.
/// </summary>
public static class MetadataContext
{
    private static readonly AsyncLocal<IReadOnlyDictionary<string, string>?> Ambient = new();

    /// <summary>What calls and publishes made here carry along (empty outside a handler, unless added with <see cref="With(string, string)"/>).</summary>
    public static IReadOnlyDictionary<string, string> Current => Ambient.Value ?? ImmutableDictionary<string, string>.Empty;

    /// <summary>Adds (or replaces) one header for the calls made until the scope is disposed.</summary>
    public static IDisposable With(string key, string value) => With([new KeyValuePair<string, string>(key, value)]);

    /// <summary>Adds (or replaces) headers for the calls made until the scope is disposed.</summary>
    public static IDisposable With(IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return Replace(Current.ToImmutableDictionary(StringComparer.Ordinal).SetItems(headers));
    }

    /// <summary>Leaves headers out of the calls made until the scope is disposed.</summary>
    public static IDisposable Without(params string[] keys) => Replace(Current.ToImmutableDictionary(StringComparer.Ordinal).RemoveRange(keys));

    /// <summary>Nothing flows into the calls made until the scope is disposed.</summary>
    public static IDisposable Suppress() => Replace(null);

    private static Restore Replace(IReadOnlyDictionary<string, string>? headers)
    {
        var previous = Ambient.Value;
        Ambient.Value = headers;
        return new Restore(previous);
    }

    /// <summary>Serving a request or event with <paramref name="headers"/>: they become what flows (touches nothing when there are none).</summary>
    internal static Scope Enter(IReadOnlyDictionary<string, string> headers)
    {
        var previous = Ambient.Value;
        if (headers.Count == 0 && previous is null) return default;
        Ambient.Value = headers.Count == 0 ? null : headers;
        return new Scope(previous, set: true);
    }

    /// <summary>The headers a call or publish made here carries: the ambient ones (bar those never propagated) under the explicit ones.</summary>
    internal static IReadOnlyDictionary<string, string> Outgoing(IReadOnlyDictionary<string, string> given, bool propagate)
    {
        if (!propagate || Ambient.Value is not { Count: > 0 } ambient) return given;
        var merged = new Dictionary<string, string>(ambient.Count + given.Count, StringComparer.Ordinal);
        foreach (var (key, value) in ambient)
            if (key != MetadataKeys.Attempt) merged[key] = value;
        foreach (var (key, value) in given) merged[key] = value;
        return merged;
    }

    internal readonly struct Scope(IReadOnlyDictionary<string, string>? previous, bool set) : IDisposable
    {
        public void Dispose()
        {
            if (set) Ambient.Value = previous;
        }
    }

    private sealed class Restore(IReadOnlyDictionary<string, string>? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Ambient.Value = previous;
        }
    }
}
