using Micro.Actors.Errors;

namespace Micro.Actors.Client;

/// <summary>
/// What a call does after a try failed, kept pure (no actor, no clock of its own) so each edge is
/// tested on its own: another node after the backoff, or the end with this error — never a retry
/// that cannot finish before the deadline, and never a dead router for a policy that throws.
/// </summary>
internal static class RetryPlan
{
    public readonly record struct Choice(bool Retry, TimeSpan Delay)
    {
        public static readonly Choice GiveUp = new(false, TimeSpan.Zero);
    }

    /// <param name="attemptsMade">Tries so far (1 after the first): the backoff's retry number.</param>
    public static Choice AfterFailure(MicroError error, int retriesLeft, int attemptsMade, DateTime now, DateTime deadline,
        Func<MicroError, bool> retryOn, Func<int, TimeSpan>? backoff)
    {
        bool retry;
        try { retry = retriesLeft > 0 && retryOn(error); }
        catch (Exception) { retry = false; } // a failing retry policy means no retry
        if (!retry) return Choice.GiveUp;
        TimeSpan delay;
        try { delay = (backoff ?? RetryPolicy.Exponential)(attemptsMade); }
        catch (Exception) { delay = RetryPolicy.Exponential(attemptsMade); }
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        return now + delay >= deadline ? Choice.GiveUp : new Choice(true, delay);
    }
}
