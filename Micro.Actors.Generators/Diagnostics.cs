using Microsoft.CodeAnalysis;

namespace Micro.Actors.Generators;

/// <summary>What cannot work in a contract, found at compile time (MICRO0xx).</summary>
internal static class Diagnostics
{
    private const string Category = "Micro.Actors.Contracts";

    public static readonly DiagnosticDescriptor BadShape = new(
        "MICRO001", "A contract method has no endpoint shape",
        "{0}: {1}. A contract method takes a request (and, last, an optional CancellationToken) and returns Task<TReply> (a call), " +
        "Task (one-way), or IAsyncEnumerable<TReply> (a server stream); a request of IAsyncEnumerable<T> makes a client stream " +
        "(Task<TReply>) or a bidirectional stream (IAsyncEnumerable<TReply>).",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotSerializable = new(
        "MICRO002", "A contract type cannot cross the wire",
        "{0}: the {1} type {2} cannot be serialized: {3}. Use a record or class of data (or a primitive) instead.",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateEndpoint = new(
        "MICRO003", "Two contract methods have one endpoint",
        "{0} and {1} are both the endpoint {2}: rename one, or give it [MicroEndpoint(\"OtherName\")]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadContract = new(
        "MICRO004", "A service contract cannot be generated",
        "{0}: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
