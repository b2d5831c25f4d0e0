using System.Collections;

namespace Micro.Actors.Tests.Support;

/// <summary>
/// A list that exporters add to from their threads while a test reads it (OpenTelemetry's in-memory exporter
/// takes any <see cref="ICollection{T}"/>, and hears every test's nodes in this process).
/// </summary>
public sealed class LockedList<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public List<T> Snapshot() { lock (_items) return [.. _items]; }

    public void Add(T item) { lock (_items) _items.Add(item); }
    public void Clear() { lock (_items) _items.Clear(); }
    public bool Contains(T item) { lock (_items) return _items.Contains(item); }
    public void CopyTo(T[] array, int arrayIndex) { lock (_items) _items.CopyTo(array, arrayIndex); }
    public bool Remove(T item) { lock (_items) return _items.Remove(item); }
    public int Count { get { lock (_items) return _items.Count; } }
    public bool IsReadOnly => false;
    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
