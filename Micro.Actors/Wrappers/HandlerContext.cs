using Micro.Actors.Metadata;
using Micro.Actors.Server;

namespace Micro.Actors.Wrappers;

/// <summary>
/// A request as handler wrappers see it, on the node that serves it. Changes to <see cref="Headers"/>
/// and <see cref="Message"/> are what the handler then gets.
/// </summary>
public sealed class HandlerContext
{
    internal HandlerContext(RequestContext request, object? message, CallKind kind, string node)
    {
        Request = request;
        Message = message;
        Kind = kind;
        Node = node;
        var headers = new Dictionary<string, string>(request.Headers, StringComparer.Ordinal);
        request.Headers = headers; // the handler reads what the wrappers leave
        Headers = headers;
        Attempt = headers.TryGetValue(MetadataKeys.Attempt, out var a) && int.TryParse(a, out var n) && n > 1 ? n : 1;
    }

    /// <summary>The request's context as its handler sees it (deadline, cancellation, services).</summary>
    public RequestContext Request { get; }
    public string Service => Request.Service;
    public string Endpoint => Request.Endpoint;
    /// <summary>The group of the endpoint ("Greeter" of "Greeter.Hello").</summary>
    public string Group => EndpointName.GroupOf(Request.Endpoint);
    public string RequestId => Request.Id;
    public DateTime Deadline => Request.Deadline;
    public CallKind Kind { get; }
    /// <summary>Which attempt of the caller's call this is (1 unless it is a retry from another node).</summary>
    public int Attempt { get; }
    /// <summary>This node, "host:port".</summary>
    public string Node { get; }
    /// <summary>The caller's metadata; what is here when the handler runs is what it sees.</summary>
    public IDictionary<string, string> Headers { get; }
    /// <summary>The decoded request (null for a stream of requests); replace it to hand the handler another.</summary>
    public object? Message { get; set; }

    private Dictionary<object, object?>? _items;

    /// <summary>State a wrapper leaves for the others.</summary>
    public IDictionary<object, object?> Items => _items ??= [];

    /// <summary>A stream's items so far (null for a unary request).</summary>
    internal Streaming.StreamCount? Stream { get; init; }

    /// <summary>Whether the request reached its handler (false: a wrapper answered in its place).</summary>
    internal bool Reached { get; set; }

    /// <summary>Runs the handler itself (set by the server for this request).</summary>
    internal Func<HandlerContext, Task<object?>> Handler { get; set; } = null!;
}
