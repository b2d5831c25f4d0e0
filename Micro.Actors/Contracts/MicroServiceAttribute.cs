namespace Micro.Actors.Contracts;

/// <summary>
/// Marks an interface as a service contract: Micro.Actors' source generator emits, at compile time, a
/// typed client (<c>client.For&lt;IGreeter&gt;()</c>) and a server binding
/// (<c>service.Implement&lt;IGreeter, GreeterService&gt;()</c>) on the same wire as the string API, so a
/// typed client, a string call and <c>micro call</c> reach the same endpoints.
/// </summary>
/// <remarks>
/// Each method is one endpoint, <c>{Group}.{Method}</c>, of one of five shapes (the request type and an
/// optional <see cref="CancellationToken"/> in, the reply out): <c>Task&lt;TReply&gt; M(TRequest)</c> a call;
/// <c>Task M(TRequest)</c> one-way (Tell); <c>IAsyncEnumerable&lt;TReply&gt; M(TRequest)</c> a server stream;
/// <c>Task&lt;TReply&gt; M(IAsyncEnumerable&lt;TRequest&gt;)</c> a client stream;
/// <c>IAsyncEnumerable&lt;TReply&gt; M(IAsyncEnumerable&lt;TRequest&gt;)</c> a bidirectional stream.
/// </remarks>
[AttributeUsage(AttributeTargets.Interface, Inherited = false)]
public sealed class MicroServiceAttribute(string name) : Attribute
{
    /// <summary>The service (the cluster role of its nodes), e.g. "greeter".</summary>
    public string Name { get; } = name;

    /// <summary>The handler group of the endpoints ("Greeter" in Greeter.Hello); by default the interface's name without its leading I.</summary>
    public string? Group { get; set; }

    /// <summary>
    /// The contract's version. Typed clients call only nodes of this version (unless a call's options give
    /// their own filters or an address), and a node implementing it must run this version.
    /// </summary>
    public string? Version { get; set; }
}

/// <summary>Names a contract method's endpoint when it should differ from the method's name (the part after the group's dot).</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class MicroEndpointAttribute(string name) : Attribute
{
    /// <summary>The method part of the endpoint name, e.g. "Hello" in Greeter.Hello.</summary>
    public string Name { get; } = name;
}
