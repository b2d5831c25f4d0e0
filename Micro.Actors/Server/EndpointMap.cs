namespace Micro.Actors.Server;

/// <summary>One endpoint a node serves.</summary>
internal sealed record EndpointSpec(string Name, Type RequestType, Type? ResponseType);

/// <summary>
/// The endpoints of one handler group ("Greeter"): each names a method and the message types.
/// The handler actor receives the request message and replies to its sender.
/// </summary>
public sealed class EndpointMap
{
    private readonly string _group;
    internal List<EndpointSpec> Endpoints { get; } = [];

    internal EndpointMap(string group) => _group = group;

    /// <summary>A request/reply endpoint "Group.<paramref name="method"/>".</summary>
    public EndpointMap Map<TRequest, TResponse>(string method) => Add(method, typeof(TRequest), typeof(TResponse));

    /// <summary>An endpoint that takes a message and sends nothing back (meant for <c>Tell</c>).</summary>
    public EndpointMap Map<TRequest>(string method) => Add(method, typeof(TRequest), null);

    private EndpointMap Add(string method, Type request, Type? response)
    {
        if (!EndpointName.IsWord(method))
            throw new ArgumentException($"'{method}' is not a method name: give the part after the dot, e.g. \"Hello\" for {_group}.Hello", nameof(method));
        var name = $"{_group}.{method}";
        if (Endpoints.Any(e => e.Name == name)) throw new ArgumentException($"{name} is mapped twice", nameof(method));
        Endpoints.Add(new EndpointSpec(name, request, response));
        return this;
    }
}
