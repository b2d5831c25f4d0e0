using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Micro.Actors.Observability;

/// <summary>
/// The node's <see cref="Meter"/>. What calls and events measure as they pass is recorded by the observing
/// wrappers; what a node counts anyway (requests served and failed per endpoint — the figures of
/// <c>Debug.Stats</c> —, rejections, queue depth, events delivered, cluster members) is read from each
/// live node's <see cref="NodeFigures"/> when a listener collects, so there is one set of figures.
/// </summary>
internal static class Metrics
{
    /// <summary>The RPC conventions' bucket boundaries for call durations, in seconds.</summary>
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    public static readonly Meter Meter = new(Telemetry.MeterName, Telemetry.Version);

    private static readonly ConcurrentDictionary<NodeFigures, byte> Nodes = new();

    public static readonly Histogram<double> ClientDuration = Meter.CreateHistogram("rpc.client.call.duration", "s",
        "Duration of calls made, all their attempts included", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static readonly Histogram<double> ServerDuration = Meter.CreateHistogram("rpc.server.call.duration", "s",
        "Duration of requests handled, from their handler's start", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>("micro.client.calls.in_flight", "{call}",
        "Calls on their way, per service called");

    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("micro.client.retries", "{attempt}",
        "Attempts after a call's first");

    public static readonly Counter<long> Failovers = Meter.CreateCounter<long>("micro.client.failovers", "{attempt}",
        "Attempts on another node than the call's previous attempt");

    public static readonly Counter<long> Sent = Meter.CreateCounter<long>("messaging.client.sent.messages", "{message}",
        "Events published");

    public static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram("messaging.process.duration", "s",
        "Duration of subscribers' handling of an event", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("micro.batch.size", "{message}",
        "Messages in one remote batch between two nodes", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    static Metrics()
    {
        Meter.CreateObservableCounter("micro.server.calls", () => Read(n => n.Calls()), "{call}",
            "Requests a node's endpoints answered, by outcome (what Debug.Stats counts)");
        Meter.CreateObservableCounter("micro.server.rejections", () => Read(n => n.Rejections()), "{call}",
            "Requests refused before their handler ran (503 when overloaded or stopping, 429 over a limit, …)");
        Meter.CreateObservableUpDownCounter("micro.server.queue.depth", () => Read(n => n.Queues()), "{call}",
            "Requests waiting for a free handler, per handler group");
        Meter.CreateObservableCounter("messaging.client.consumed.messages", () => Read(n => n.Consumed()), "{message}",
            "Events given to subscribers, per topic and queue group");
        Meter.CreateObservableCounter("micro.events.failed", () => Read(n => n.EventsFailed()), "{message}",
            "Events whose subscriber failed or that could not be read, per topic and queue group");
        Meter.CreateObservableCounter("micro.stream.items", () => Read(n => n.StreamItems()), "{message}",
            "Items streams sent from this node's handlers, per endpoint");
        Meter.CreateObservableUpDownCounter("micro.cluster.members", () => Read(n => n.Members()), "{member}",
            "Members of the cluster as a node sees them, by status");
    }

    public static void Add(NodeFigures node) => Nodes[node] = 0;

    public static void Remove(NodeFigures node) => Nodes.TryRemove(node, out _);

    private static IEnumerable<Measurement<long>> Read(Func<NodeFigures, IEnumerable<Measurement<long>>> read) =>
        Nodes.Keys.SelectMany(read).ToList();

    /// <summary>A measurement with the node's tags and more.</summary>
    internal static Measurement<long> Of(NodeFigures node, long value, string key, object? tag, string? key2 = null, object? tag2 = null)
    {
        var tags = new TagList { { "micro.service", node.Service }, { "micro.node", node.Node }, { key, tag } };
        if (key2 is not null) tags.Add(key2, tag2);
        return new Measurement<long>(value, tags);
    }
}
