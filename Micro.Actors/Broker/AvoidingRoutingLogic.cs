using Akka.Routing;
using Micro.Actors.Registry;

namespace Micro.Actors.Broker;

/// <summary>
/// The mediator's choice of one member per queue group: random, but never a member on a node that is
/// unreachable or whose connection just dropped (while another member is left). Akka's own random
/// logic keeps choosing a dead member until the node is removed from the cluster, which loses about
/// half of a two-member group's events for the ~20 s that takes.
/// </summary>
internal sealed class AvoidingRoutingLogic(NodeHealth health) : RoutingLogic
{
    public override Routee Select(object message, Routee[] routees)
    {
        if (routees.Length == 0) return Routee.NoRoutee;
        if (health.IsEmpty) return routees[Random.Shared.Next(routees.Length)];
        var healthy = routees.Where(r => !(r is ActorRefRoutee a && health.ShouldAvoid(a.Actor.Path.Address))).ToArray();
        var pool = healthy.Length > 0 ? healthy : routees;
        return pool[Random.Shared.Next(pool.Length)];
    }
}
