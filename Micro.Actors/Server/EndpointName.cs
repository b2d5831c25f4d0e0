namespace Micro.Actors.Server;

/// <summary>
/// "Group.Method" (go-micro's "Service.Method" within a service): the one rule for every endpoint
/// name, checked where handlers are registered and where calls are made — a group and a method, each
/// a word without dots or whitespace.
/// </summary>
internal readonly record struct EndpointName(string Group, string Method)
{
    public const string Example = "Greeter.Hello";

    public override string ToString() => $"{Group}.{Method}";

    public static bool TryParse(string? text, out EndpointName name)
    {
        name = default;
        if (!IsValid(text)) return false;
        var dot = text!.IndexOf('.');
        name = new EndpointName(text[..dot], text[(dot + 1)..]);
        return true;
    }

    /// <summary>Whether <paramref name="text"/> is an endpoint name; allocates nothing (every call checks it).</summary>
    public static bool IsValid(string? text)
    {
        var dot = text?.IndexOf('.') ?? -1;
        return dot >= 0 && IsWord(text.AsSpan(0, dot)) && IsWord(text.AsSpan(dot + 1));
    }

    /// <summary>The name, or an <see cref="ArgumentException"/> that says the rule.</summary>
    public static EndpointName Parse(string text, string parameter) =>
        TryParse(text, out var name) ? name : throw new ArgumentException(Problem(text), parameter);

    /// <summary>What is wrong with <paramref name="text"/> as an endpoint name.</summary>
    public static string Problem(string? text) => $"'{text}' is not an endpoint: use Group.Method, e.g. {Example}";

    /// <summary>The group of an endpoint name that was checked already ("Greeter" of "Greeter.Hello").</summary>
    public static string GroupOf(string endpoint) => endpoint.IndexOf('.') is var dot and > 0 ? endpoint[..dot] : endpoint;

    /// <summary>A group or a method: not blank, no dot, no whitespace.</summary>
    public static bool IsWord(string? part) => part is not null && IsWord(part.AsSpan());

    private static bool IsWord(ReadOnlySpan<char> part)
    {
        if (part.IsEmpty) return false;
        foreach (var c in part)
            if (c == '.' || char.IsWhiteSpace(c)) return false;
        return true;
    }
}
