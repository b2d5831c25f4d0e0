using System.Collections.Concurrent;
using Hyperion;

namespace Micro.Actors.Codec;

/// <summary>
/// The types a node agrees to build from bytes, so a peer cannot make it construct arbitrary types
/// (deserialization gadgets). Hyperion asks it for every type named on the wire, generic arguments
/// included, on top of its own deny-list of known-dangerous types.
/// <para>Allowed: Akka's and Micro.Actors' messages, plain BCL values and collections of allowed
/// types, the assemblies of every registered handler and subscriber message type, the types a
/// node's own code sends and expects, and each entry of <c>micro.serialization.allowed-types</c>
/// (an assembly name, a namespace or a type name).</para>
/// </summary>
internal sealed class TypeAllowList : ITypeFilter
{
    /// <summary>Assemblies whose every type is a message: Akka's and ours.</summary>
    private static readonly string[] TrustedAssemblies =
        ["Akka", "Akka.Remote", "Akka.Cluster", "Akka.Cluster.Tools", "Akka.Streams", "Micro.Actors"];

    /// <summary>Names Hyperion and the runtime use for the core library.</summary>
    private static readonly HashSet<string> CoreAssemblies = new(StringComparer.Ordinal)
    {
        "%core%", "System.Private.CoreLib", "mscorlib", "netstandard", "System.Runtime",
        "System.Collections", "System.Collections.Immutable", "System.Private.Uri",
    };

    /// <summary>Core types that hold data and nothing else.</summary>
    private static readonly HashSet<string> CoreValues = new(StringComparer.Ordinal)
    {
        "System.Object", "System.String", "System.Char", "System.Boolean", "System.Byte", "System.SByte",
        "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
        "System.Int128", "System.UInt128", "System.Half", "System.Single", "System.Double", "System.Decimal",
        "System.Guid", "System.DateTime", "System.DateTimeOffset", "System.TimeSpan", "System.DateOnly",
        "System.TimeOnly", "System.Uri", "System.Version", "System.DBNull", "System.Collections.DictionaryEntry",
    };

    /// <summary>Generic core containers: allowed when every type argument is.</summary>
    private static readonly string[] CoreContainerPrefixes =
        ["System.Collections.Generic.", "System.Collections.Immutable.", "System.Nullable`", "System.ValueTuple`", "System.Tuple`", "System.Collections.ObjectModel.ReadOnly"];

    private readonly ConcurrentDictionary<string, byte> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _verdicts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, byte> _types = new();
    private int _version;
    private const int MaxVerdicts = 10_000; // a peer sending endless new names must not grow memory

    public TypeAllowList(IEnumerable<string>? entries = null)
    {
        foreach (var entry in entries ?? []) Allow(entry);
    }

    /// <summary>The entries beside the built-in ones.</summary>
    public IReadOnlyCollection<string> Entries => _entries.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>Allows an assembly (by simple name), a namespace, or a type (by full name).</summary>
    public void Allow(string entry)
    {
        if (string.IsNullOrWhiteSpace(entry)) throw new ArgumentException("An allow-list entry cannot be blank", nameof(entry));
        if (!_entries.TryAdd(entry.Trim(), 0)) return;
        Interlocked.Increment(ref _version);
        _verdicts.Clear();
    }

    /// <summary>Allows the assembly of <paramref name="type"/> and of its generic arguments (core types need nothing).</summary>
    public void Allow(Type type)
    {
        // Callers allow their message types on every call: a lock-free look first makes that free.
        if (_types.ContainsKey(type) || !_types.TryAdd(type, 0)) return;
        if (type.IsArray || type.IsByRef || type.IsPointer) { Allow(type.GetElementType()!); return; }
        if (type.IsGenericType) foreach (var argument in type.GetGenericArguments()) Allow(argument);
        if (type.IsGenericParameter) return;
        var assembly = type.Assembly.GetName().Name;
        if (assembly is null || CoreAssemblies.Contains(assembly) || Array.IndexOf(TrustedAssemblies, assembly) >= 0) return;
        Allow(assembly);
    }

    /// <summary>Hyperion's question, for a name as written on the wire or a full assembly-qualified name.</summary>
    public bool IsAllowed(string typeName)
    {
        if (_verdicts.TryGetValue(typeName, out var known)) return known;
        var version = Volatile.Read(ref _version);
        var index = 0;
        bool verdict;
        try { verdict = Check(typeName, ref index) && index >= typeName.Length; }
        catch (IndexOutOfRangeException) { verdict = false; } // a name that does not parse is not allowed
        // Kept only if no entry was added meanwhile (a "no" from before an Allow must not stick).
        if (_verdicts.Count < MaxVerdicts && Volatile.Read(ref _version) == version) _verdicts[typeName] = verdict;
        if (Volatile.Read(ref _version) != version) _verdicts.TryRemove(typeName, out _);
        return verdict;
    }

    /// <summary>
    /// Reads one type at <paramref name="i"/> — <c>Name[`n[[Arg, Asm],[Arg, Asm]]][[]][, Asm[, Version=…]]</c> —
    /// and says whether it and all its type arguments are allowed.
    /// </summary>
    private bool Check(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && s[i] is not ('[' or ']' or ',')) i++;
        var name = s[start..i].Trim().TrimEnd('&', '*');
        var allowed = name.Length > 0;
        while (i < s.Length && s[i] == '[')
        {
            if (i + 1 < s.Length && s[i + 1] == '[') // generic arguments: [[A, asm],[B, asm]]
            {
                i++;
                while (true)
                {
                    Expect(s, ref i, '[');
                    allowed &= Check(s, ref i);
                    Expect(s, ref i, ']');
                    if (s[i] == ',') { i++; continue; }
                    Expect(s, ref i, ']');
                    break;
                }
            }
            else // array rank: [], [,], [*]
            {
                while (s[i] != ']') i++;
                i++;
            }
        }
        string? assembly = null;
        if (i < s.Length && s[i] == ',')
        {
            i++;
            start = i;
            while (i < s.Length && s[i] is not (',' or ']')) i++;
            assembly = s[start..i].Trim();
            while (i < s.Length && s[i] == ',') // Version=…, Culture=…, PublicKeyToken=…
            {
                i++;
                while (i < s.Length && s[i] is not (',' or ']')) i++;
            }
        }
        return allowed && Allows(name, assembly);
    }

    private static void Expect(string s, ref int i, char c)
    {
        while (s[i] == ' ') i++;
        if (s[i] != c) throw new IndexOutOfRangeException();
        i++;
    }

    private bool Allows(string name, string? assembly)
    {
        if (assembly is not null && (_entries.ContainsKey(assembly) || Array.IndexOf(TrustedAssemblies, assembly) >= 0)) return true;
        if (assembly is null || CoreAssemblies.Contains(assembly))
        {
            if (CoreValues.Contains(name)) return true;
            foreach (var prefix in CoreContainerPrefixes)
                if (name.StartsWith(prefix, StringComparison.Ordinal)) return true;
        }
        foreach (var entry in _entries.Keys)
            if (name.StartsWith(entry, StringComparison.Ordinal) && (name.Length == entry.Length || name[entry.Length] is '.' or '+' or '`'))
                return true;
        return false;
    }
}
