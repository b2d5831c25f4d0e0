namespace Micro.Actors.Batching;

/// <summary>
/// Adaptive batching, per node (Nagle's rule): whether the calls waiting for a node leave now or wait
/// for the message ahead of them to be heard from. Pure, so each edge is a unit test.
/// </summary>
internal static class LaneRule
{
    /// <summary>Up to this many calls in flight (to the whole service), each goes at once: batching would only add latency.</summary>
    public const int FewCalls = 4;

    /// <summary>The fewest held calls that leave without waiting for the message ahead to be heard from.</summary>
    public const int FullMessage = 8;

    /// <summary>
    /// Hold while a message to the node is unheard from and more than a few calls are in flight — unless the
    /// waiting calls fill a message of their own and are half the calls on that node (then a second full
    /// message travels while the server works on the first, and the load does not split into small ones).
    /// </summary>
    /// <param name="onNode">The calls on that node (read only when <paramref name="waiting"/> could fill a message: see <see cref="NeedsOnNode"/>).</param>
    public static bool Hold(int unheard, int callsInFlight, int waiting, int onNode) =>
        unheard >= 1 && callsInFlight > FewCalls && !(waiting >= FullMessage && waiting * 2 >= onNode);

    /// <summary>Whether <see cref="Hold"/> reads its count of calls on the node (counting them is a scan).</summary>
    public static bool NeedsOnNode(int waiting) => waiting >= FullMessage;
}
