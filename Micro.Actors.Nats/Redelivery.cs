namespace Micro.Actors.Nats;

/// <summary>What becomes of a delivered event: acked, delivered again after a wait, or sent to the dead-letter topic.</summary>
internal abstract record Outcome
{
    public sealed record Ack : Outcome;
    public sealed record Retry(TimeSpan After) : Outcome;
    public sealed record DeadLetter(string Reason) : Outcome;
    public sealed record Skip(string Why) : Outcome;
}

/// <summary>
/// The delivery rule, apart from NATS: an event is acked once its handler succeeded; a failed attempt is retried
/// after the backoff until max-attempts, then the event is a dead letter. An event that cannot be read never will
/// be: it is a dead letter at once. One delivered more often than max-attempts (its handlers' nodes died before
/// answering) is a dead letter without another try.
/// </summary>
internal sealed class Redelivery(int maxAttempts, Func<int, TimeSpan> backoffAfter)
{
    /// <summary>Before the handler runs: null to run it, or the outcome without running it.</summary>
    public Outcome? Before(int delivery) =>
        delivery > maxAttempts
            ? new Outcome.DeadLetter($"delivered {delivery} times without an answer (its handler's node stopped or the handler outlived its ack wait); max-attempts is {maxAttempts}")
            : null;

    public Outcome After(int delivery, Exception? failure)
    {
        if (failure is null) return new Outcome.Ack();
        if (delivery >= maxAttempts)
            return new Outcome.DeadLetter($"the handler failed {delivery} time(s), the last: {failure.GetType().Name}: {failure.Message}");
        return new Outcome.Retry(backoffAfter(delivery));
    }

    public static Outcome Unreadable(string why) => new Outcome.DeadLetter($"it does not read: {why}");
}
