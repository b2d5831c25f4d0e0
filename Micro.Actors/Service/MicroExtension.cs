using Akka.Actor;

namespace Micro.Actors.Service;

/// <summary>
/// Micro.Actors on an actor system, as an Akka extension (like Akka.Cluster's): its actors are system
/// actors under <c>/system</c>, so the user's <c>/user</c> namespace — its names, its guardian, its shutdown
/// order — stays theirs. Every node has them at the same paths, which is how nodes find each other's
/// server and descriptor. One node per actor system: a second one is refused with a clear error.
/// </summary>
internal sealed class MicroExtension : IExtension
{
    private readonly ExtendedActorSystem _system;
    private string? _node;
    private readonly object _gate = new();

    private MicroExtension(ExtendedActorSystem system) => _system = system;

    public static MicroExtension Get(ActorSystem system) => system.WithExtension<MicroExtension, Provider>();

    private sealed class Provider : ExtensionIdProvider<MicroExtension>
    {
        public override MicroExtension CreateExtension(ExtendedActorSystem system) => new(system);
    }

    /// <summary>Takes the system for the node <paramref name="node"/>; a system already taken refuses it.</summary>
    public void Claim(string node)
    {
        lock (_gate)
        {
            if (_node is not null)
                throw new InvalidOperationException($"the actor system '{_system.Name}' already runs the Micro.Actors node {_node}: one node per actor system (give {node} a system of its own)");
            _node = node;
        }
    }

    /// <summary>Starts one of Micro.Actors' actors, under <c>/system</c>.</summary>
    public IActorRef Start(Props props, string name) => _system.SystemActorOf(props, name);

    /// <summary>The path of <paramref name="name"/> on the node at <paramref name="node"/>.</summary>
    public static ActorPath On(Address node, string name) => new RootActorPath(node) / "system" / name;

    /// <summary>The path of <paramref name="name"/> on this node.</summary>
    public static string Local(string name) => "/system/" + name;
}
