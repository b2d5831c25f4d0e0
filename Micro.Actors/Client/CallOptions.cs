using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Selector;

namespace Micro.Actors.Client;

/// <summary>
/// Per-call options (go-micro's CallOption). Anything left null takes the node's default
/// (micro.client.* in config/micro.conf).
/// </summary>
public sealed record CallOptions
{
    /// <summary>The whole call's deadline, retries included (default 5 s).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>How many times to try another node after a node failure (default 1).</summary>
    public int? Retries { get; init; }

    /// <summary>How to pick among candidate nodes (default random).</summary>
    public ISelector? Selector { get; init; }

    /// <summary>Only nodes that pass every filter are candidates (see <see cref="Filters"/>).</summary>
    public IReadOnlyList<Func<ServiceNode, bool>> Filters { get; init; } = [];

    /// <summary>A fixed node ("host:port"): skips selection.</summary>
    public string? Address { get; init; }

    /// <summary>Metadata that travels with the request; handlers and wrappers see it.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Which errors are worth another node (default: <see cref="RetryPolicy.OnNodeFailure"/>).</summary>
    public Func<MicroError, bool>? RetryOn { get; init; }

    /// <summary>Wait before retry number n (default go-micro's: 0, 10 ms, 100 ms, 1 s, …).</summary>
    public Func<int, TimeSpan>? Backoff { get; init; }

    /// <summary>
    /// How the request travels: null or application/x-hyperion sends the object itself (between .NET
    /// nodes); another content type (application/json) encodes it with that codec, and the reply comes
    /// back in it: ask for <c>byte[]</c> to get the raw reply, or a type to have it decoded.
    /// </summary>
    public string? ContentType { get; init; }

    /// <summary>
    /// Whether the metadata of the request being served here (<see cref="Metadata.MetadataContext"/>) goes
    /// along with this call (default true; <see cref="Headers"/> win over it).
    /// </summary>
    public bool PropagateMetadata { get; init; } = true;

    public static readonly CallOptions Default = new();
}

/// <summary>go-micro's retry defaults.</summary>
public static class RetryPolicy
{
    /// <summary>
    /// Retry when the node, not the request, failed: 503 (node lost, unreachable, overloaded or
    /// stopping), 502 and 504. Application errors (4xx) and handler failures (500) are not retried:
    /// the handler ran, and running it again elsewhere would not help.
    /// </summary>
    public static bool OnNodeFailure(MicroError error) => error.Code is 502 or 503 or 504;

    /// <summary>go-micro's exponential backoff: 10^n ms for the n-th retry (10 ms, 100 ms, 1 s, …).</summary>
    public static TimeSpan Exponential(int retry) =>
        retry <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Pow(10, Math.Min(retry, 4)));
}
