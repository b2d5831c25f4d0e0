using Micro.Actors.Broker;

namespace Micro.Actors.Wrappers;

/// <summary>The rest of a client's or call's pipeline: the reply's bytes (null for a one-way call or a stream once open).</summary>
public delegate Task<byte[]?> CallDelegate(CallContext call);

/// <summary>The rest of a handler's pipeline: the handler's reply (null when it returns nothing, or for a stream once it ends).</summary>
public delegate Task<object?> HandlerDelegate(HandlerContext handler);

/// <summary>The rest of a subscriber's pipeline: done when the subscriber is done with the event.</summary>
public delegate Task EventDelegate(EventCall delivery);

/// <summary>The rest of a publish's pipeline: done when the broker has taken the event.</summary>
public delegate Task PublishDelegate(PublishContext publish);

/// <summary>
/// go-micro's client wrapper: runs around a whole call — every retry inside one deadline — on the
/// caller's node. Act before and after <c>next</c>, change <see cref="CallContext.Headers"/>, short-circuit
/// by returning without calling <c>next</c>, or throw a <see cref="Errors.MicroException"/> to fail the call.
/// </summary>
public interface IClientWrapper
{
    Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next);
}

/// <summary>
/// go-micro's call wrapper: runs around each attempt of a call on one node (<see cref="CallContext.Node"/>,
/// <see cref="CallContext.Attempt"/>). A 502/503/504 it throws moves the call to another node like a node's own.
/// </summary>
public interface ICallWrapper
{
    Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next);
}

/// <summary>
/// go-micro's handler wrapper: runs on the serving node around every handler kind (actor, function,
/// stream) before the handler sees the request. Return a reply without calling <c>next</c> to answer
/// in its place, or throw a <see cref="Errors.MicroException"/> to answer with its error.
/// </summary>
public interface IHandlerWrapper
{
    Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next);
}

/// <summary>go-micro's subscriber wrapper: runs around each event a subscriber (function or actor) is given.</summary>
public interface ISubscriberWrapper
{
    Task InvokeAsync(EventCall delivery, EventDelegate next);
}

/// <summary>Runs around each publish from this node (go-micro's client wrapper on Publish).</summary>
public interface IPublishWrapper
{
    Task InvokeAsync(PublishContext publish, PublishDelegate next);
}
