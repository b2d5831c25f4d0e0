using Akka.Actor;

namespace Micro.Actors.Service;

/// <summary>
/// Where Micro.Actors' own actors live: under <c>/system</c>, like Akka's own extensions (the cluster, its
/// pub/sub), so the user's <c>/user</c> namespace — its names, its guardian, its shutdown order — stays theirs.
/// Every node has them at the same paths, which is how nodes find each other's server and descriptor.
/// </summary>
internal static class SystemActors
{
    public static IActorRef Start(ActorSystem system, Props props, string name) => ((ExtendedActorSystem)system).SystemActorOf(props, name);

    /// <summary>The path of <paramref name="name"/> on the node at <paramref name="node"/>.</summary>
    public static ActorPath On(Address node, string name) => new RootActorPath(node) / "system" / name;

    /// <summary>The path of <paramref name="name"/> on this node.</summary>
    public static string Local(string name) => "/system/" + name;
}
