using System.Threading.RateLimiting;
using Micro.Actors.Errors;

namespace Micro.Actors.Wrappers;

/// <summary>
/// A limit per endpoint on the serving node, on .NET's own limiters: a request over it is answered
/// 429 at once (not queued, and not retried elsewhere by the caller: the service is busy, not broken).
/// </summary>
public sealed class EndpointLimit : IHandlerWrapper, IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;
    private readonly string _what;

    private EndpointLimit(PartitionedRateLimiter<string> limiter, string what)
    {
        _limiter = limiter;
        _what = what;
    }

    /// <summary>At most <paramref name="permits"/> requests of each endpoint handled at once on this node.</summary>
    public static EndpointLimit Concurrency(int permits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permits, 1);
        return new(PartitionedRateLimiter.Create<string, string>(endpoint => RateLimitPartition.GetConcurrencyLimiter(endpoint,
            _ => new ConcurrencyLimiterOptions { PermitLimit = permits, QueueLimit = 0 })), $"{permits} at once");
    }

    /// <summary>At most <paramref name="permits"/> requests of each endpoint per <paramref name="window"/> on this node (a token bucket, refilled smoothly).</summary>
    public static EndpointLimit Rate(int permits, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permits, 1);
        if (window <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(window), "the window must be longer than zero");
        return new(PartitionedRateLimiter.Create<string, string>(endpoint => RateLimitPartition.GetTokenBucketLimiter(endpoint,
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = permits,
                TokensPerPeriod = permits,
                ReplenishmentPeriod = window,
                QueueLimit = 0,
                AutoReplenishment = true,
            })), $"{permits} per {window.TotalSeconds:0.###} s");
    }

    public async Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next)
    {
        using var lease = _limiter.AttemptAcquire(handler.Endpoint);
        if (!lease.IsAcquired)
        {
            var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? $" in {retryAfter.TotalSeconds:0.###} s" : " shortly";
            throw MicroError.New(handler.Service, 429, $"{handler.Endpoint} is over its limit on node {handler.Node} ({_what}); try again{after}").ToException();
        }
        return await next(handler).ConfigureAwait(false);
    }

    public void Dispose() => _limiter.Dispose();
}
