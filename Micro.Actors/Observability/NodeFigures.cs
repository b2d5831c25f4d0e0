using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Micro.Actors.Broker;
using Micro.Actors.Server;

namespace Micro.Actors.Observability;

/// <summary>
/// What one node counts as it works: its endpoints' requests (served, failed, stream items), requests it
/// refused, its handler queues, its subscriptions' events, and its view of the cluster. <c>Debug.Stats</c>
/// answers from these, and the node's <see cref="Meter"/> reads them when it is collected.
/// </summary>
internal sealed class NodeFigures(string service, string node)
{
    private readonly ConcurrentDictionary<string, EndpointCounters> _endpoints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, StrongBox<long>> _rejections = new();
    private readonly ConcurrentDictionary<string, Func<int>> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<SubscriberCounters, (string Topic, string? Queue)> _subscriptions = new();

    public string Service { get; } = service;
    public string Node { get; } = node;

    /// <summary>The members of the cluster by status, as this node sees them; null: not known.</summary>
    public Func<IEnumerable<(string Status, int Count)>>? MemberCounts { get; set; }

    public EndpointCounters Endpoint(string name) => _endpoints.GetOrAdd(name, static _ => new EndpointCounters());

    public IEnumerable<(string Endpoint, EndpointCounters Counters)> Endpoints => _endpoints.Select(e => (e.Key, e.Value));

    /// <summary>A request refused with <paramref name="code"/> before any handler ran.</summary>
    public void Rejected(int code) => Interlocked.Increment(ref _rejections.GetOrAdd(code, static _ => new StrongBox<long>()).Value);

    public long RejectedWith(int code) => _rejections.TryGetValue(code, out var n) ? Interlocked.Read(ref n.Value) : 0;

    /// <summary>How many requests wait for a handler of <paramref name="group"/> (read from the collecting thread: a count, never a lock).</summary>
    public void Queue(string group, Func<int> depth) => _queues[group] = depth;

    public void Subscribed(SubscriberCounters counters, string topic, string? queue) => _subscriptions[counters] = (topic, queue);

    public void Unsubscribed(SubscriberCounters counters) => _subscriptions.TryRemove(counters, out _);

    internal IEnumerable<Measurement<long>> Calls() => _endpoints.SelectMany(e => new[]
    {
        Metrics.Of(this, Interlocked.Read(ref e.Value.Served), "rpc.method", Conventions.RpcMethod(e.Key), "micro.outcome", "served"),
        Metrics.Of(this, Interlocked.Read(ref e.Value.Failed), "rpc.method", Conventions.RpcMethod(e.Key), "micro.outcome", "failed"),
    });

    internal IEnumerable<Measurement<long>> Rejections() =>
        _rejections.Select(r => Metrics.Of(this, Interlocked.Read(ref r.Value.Value), "rpc.response.status_code", r.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    internal IEnumerable<Measurement<long>> Queues() => _queues.Select(q => Metrics.Of(this, q.Value(), "micro.handler.group", q.Key));

    internal IEnumerable<Measurement<long>> Consumed() => _subscriptions.Select(s =>
        Metrics.Of(this, Interlocked.Read(ref s.Key.Received), "messaging.destination.name", s.Value.Topic, "messaging.consumer.group.name", s.Value.Queue));

    internal IEnumerable<Measurement<long>> EventsFailed() => _subscriptions.Select(s =>
        Metrics.Of(this, Interlocked.Read(ref s.Key.Failed), "messaging.destination.name", s.Value.Topic, "messaging.consumer.group.name", s.Value.Queue));

    internal IEnumerable<Measurement<long>> StreamItems() => _endpoints.Where(e => Interlocked.Read(ref e.Value.Items) > 0)
        .Select(e => Metrics.Of(this, Interlocked.Read(ref e.Value.Items), "rpc.method", Conventions.RpcMethod(e.Key)));

    internal IEnumerable<Measurement<long>> Members() =>
        (MemberCounts?.Invoke() ?? []).Select(m => Metrics.Of(this, m.Count, "micro.member.status", m.Status));
}
