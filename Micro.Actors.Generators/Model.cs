using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Micro.Actors.Generators;

/// <summary>The five shapes a contract method can have.</summary>
internal enum Shape { Call, OneWay, ServerStream, ClientStream, BidiStream }

/// <summary>
/// What the generator knows of one contract: plain values only (no symbols or syntax), so the
/// incremental pipeline can tell an unchanged contract by equality and skip its output.
/// </summary>
internal sealed record ContractModel(
    string Namespace,            // "" for the global namespace
    string InterfaceType,        // global::Demo.IGreeter
    string InterfaceName,        // IGreeter
    string HintName,             // Demo.IGreeter
    string Service,
    string Group,
    string? Version,
    EquatableArray<MethodModel> Methods,
    EquatableArray<Problem> Problems)
{
    public bool HasErrors => Problems.Any(p => p.Descriptor.DefaultSeverity == DiagnosticSeverity.Error);
}

/// <summary>One method: its endpoint, shape, types as written in C# (fully qualified), and parameter names.</summary>
internal sealed record MethodModel(
    string Name,
    string Endpoint,         // the method part of Group.Method
    Shape Shape,
    string ReturnType,       // as declared, for the explicit implementation
    string RequestParameterType,
    string RequestType,      // the element type for a stream of requests
    string? ResponseType,    // null for one-way
    string RequestName,
    string? TokenName);      // null when the method takes no CancellationToken

/// <summary>A diagnostic to report, with its location as values.</summary>
internal sealed record Problem(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Descriptor, Location?.ToLocation(), Arguments.Cast<object>().ToArray());
}

internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is { SourceTree: { } tree } ? new LocationInfo(tree.FilePath, location.SourceSpan, location.GetLineSpan().Span) : null;
}

/// <summary>An immutable array compared by its items (ImmutableArray compares by reference).</summary>
internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T>
{
    private readonly ImmutableArray<T> _items;

    public EquatableArray(ImmutableArray<T> items) => _items = items;

    private ImmutableArray<T> Items => _items.IsDefault ? ImmutableArray<T>.Empty : _items;

    public int Count => Items.Length;

    public bool Equals(EquatableArray<T> other) => Items.SequenceEqual(other.Items);
    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        foreach (var item in Items) hash = hash * 31 + (item?.GetHashCode() ?? 0);
        return hash;
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal static class EquatableArray
{
    public static EquatableArray<T> ToEquatable<T>(this IEnumerable<T> items) => new(items.ToImmutableArray());
}
