using Micro.Actors.Batching;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Microsoft.Extensions.Time.Testing;

namespace Micro.Actors.Tests.Client;

/// <summary>The router's decisions on their own: no actor, no cluster, a fake clock.</summary>
public sealed class CallDecisionTests
{
    private static readonly DateTime Start = new(2026, 12, 2, 9, 0, 0, DateTimeKind.Utc);
    private static readonly MicroError Lost = MicroError.ServiceUnavailable("echo", "node lost");

    [Theory]
    [InlineData(503, 1, 1, 5000, true, 10)]      // a node failure, a retry left: go again after go-micro's 10 ms
    [InlineData(502, 1, 2, 5000, true, 100)]     // the second retry waits 100 ms
    [InlineData(504, 0, 1, 5000, false, 0)]      // no retry left
    [InlineData(500, 3, 1, 5000, false, 0)]      // the handler failed: it ran, another node would not help
    [InlineData(404, 3, 1, 5000, false, 0)]
    [InlineData(503, 3, 1, 10, false, 0)]        // the backoff would end past the deadline: give up now
    [InlineData(503, 3, 3, 999, false, 0)]       // 1 s of backoff, 999 ms left
    public void After_a_failed_try_the_call_retries_only_for_node_failures_within_its_budget_and_deadline(
        int code, int retriesLeft, int attempts, int msLeft, bool retry, int delayMs)
    {
        var choice = RetryPlan.AfterFailure(MicroError.New("echo", code, "x"), retriesLeft, attempts, Start, Start.AddMilliseconds(msLeft),
            RetryPolicy.OnNodeFailure, null);
        Assert.Equal((retry, TimeSpan.FromMilliseconds(delayMs)), (choice.Retry, choice.Delay));
    }

    [Fact]
    public void A_retry_policy_or_backoff_that_throws_does_not_break_the_call()
    {
        Assert.False(RetryPlan.AfterFailure(Lost, 1, 1, Start, Start.AddSeconds(5), _ => throw new InvalidOperationException(), null).Retry);
        var fallback = RetryPlan.AfterFailure(Lost, 1, 1, Start, Start.AddSeconds(5), RetryPolicy.OnNodeFailure, _ => throw new InvalidOperationException());
        Assert.Equal((true, TimeSpan.FromMilliseconds(10)), (fallback.Retry, fallback.Delay));
        var negative = RetryPlan.AfterFailure(Lost, 1, 1, Start, Start.AddSeconds(5), RetryPolicy.OnNodeFailure, _ => TimeSpan.FromSeconds(-1));
        Assert.Equal((true, TimeSpan.Zero), (negative.Retry, negative.Delay));
    }

    [Fact]
    public void A_sidelined_node_is_passed_over_for_its_period_then_forgotten()
    {
        var clock = new FakeTimeProvider(Start);
        var sidelines = new Sidelines(TimeSpan.FromSeconds(2), clock);
        sidelines.Add("a");
        Assert.True(sidelines.Contains("a"));
        Assert.False(sidelines.Contains("b"));
        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.True(sidelines.Contains("a"));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(sidelines.Contains("a"));
        sidelines.Add("a");
        sidelines.Add("b");
        clock.Advance(TimeSpan.FromSeconds(1));
        sidelines.Add("a"); // failed again: its period starts over
        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal((true, false), (sidelines.Contains("a"), sidelines.Contains("b")));
        sidelines.KeepOnly(id => id != "a"); // a left the cluster
        Assert.False(sidelines.Contains("a"));
    }

    [Theory]
    [InlineData(0, 100, 50, 100, false)]  // nothing on its way to the node: go
    [InlineData(1, 4, 3, 4, false)]       // a few calls in flight: each goes at once
    [InlineData(1, 5, 3, 5, true)]        // more: wait for the message ahead (Nagle)
    [InlineData(1, 100, 7, 7, true)]      // not a full message yet
    [InlineData(1, 100, 8, 16, false)]    // a full message, half the node's calls: it goes
    [InlineData(1, 100, 8, 17, true)]     // a full message but less than half: wait
    public void Calls_for_a_node_wait_for_the_message_ahead_only_under_load_and_until_they_fill_one(
        int unheard, int inFlight, int waiting, int onNode, bool hold)
    {
        Assert.Equal(hold, LaneRule.Hold(unheard, inFlight, waiting, onNode));
        Assert.Equal(waiting >= LaneRule.FullMessage, LaneRule.NeedsOnNode(waiting));
    }

    private static Micro.Actors.Registry.ServiceNode Node(string id, Micro.Actors.Registry.NodeStatus status) =>
        new(id, new Akka.Actor.Address("akka.tcp", "test", "127.0.0.1", 1), "echo", "1.0.0", new Dictionary<string, string>(), [], status);

    [Fact]
    public void A_node_is_silent_once_a_call_has_been_on_its_way_half_a_second_with_nothing_heard_from_it_since()
    {
        var clock = new FakeTimeProvider(Start);
        var watch = new NodeWatch(clock);
        var sent = clock.GetUtcNow().UtcDateTime;
        clock.Advance(NodeWatch.SilentAfter);
        Assert.False(watch.IsSilent("a", sent));              // exactly 500 ms: not yet
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(watch.IsSilent("a", sent));               // never heard from
        watch.Heard("a");
        Assert.False(watch.IsSilent("a", sent));              // it answered after the call left: alive
        var later = clock.GetUtcNow().UtcDateTime.AddMilliseconds(1);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(watch.IsSilent("a", later));              // but nothing since a later call left
        Assert.False(watch.IsSilent("a", clock.GetUtcNow().UtcDateTime)); // a call that just left says nothing yet
        watch.KeepOnly(_ => false);                           // it left the cluster: forgotten
        Assert.True(watch.IsSilent("a", sent));
    }

    [Fact]
    public void A_call_in_flight_moves_when_its_node_leaves_or_turns_unreachable_and_stays_while_it_is_up_or_leaving()
    {
        var up = Node("up", Micro.Actors.Registry.NodeStatus.Up);
        var leaving = Node("leaving", Micro.Actors.Registry.NodeStatus.Leaving);
        var lost = Node("lost", Micro.Actors.Registry.NodeStatus.Unreachable);
        var view = Micro.Actors.Registry.RegistryView.Empty with
        {
            Nodes = System.Collections.Immutable.ImmutableDictionary<string, Micro.Actors.Registry.ServiceNode>.Empty
                .Add(up.Id, up).Add(leaving.Id, leaving).Add(lost.Id, lost),
        };
        Assert.Null(NodeWatch.WhyMove(view, up));
        Assert.Null(NodeWatch.WhyMove(view, leaving));        // a graceful leave finishes the calls it has
        Assert.Equal("became unreachable", NodeWatch.WhyMove(view, lost));
        Assert.Equal("left the cluster", NodeWatch.WhyMove(view, Node("gone", Micro.Actors.Registry.NodeStatus.Up)));
    }
}
