using Akka.Actor;
using Micro.Actors.Server;

namespace Micro.Actors.Registry;

/// <summary>
/// Answers <see cref="GetDescriptor"/> with this node's descriptor, at a well-known path. When the node's
/// subscriptions change it says so on <see cref="DescriptorChanged.Topic"/>, so that other nodes' registries
/// fetch it again (Akka's pub/sub carries the news; no gossip of our own).
/// </summary>
internal sealed class DescriptorActor : ReceiveActor
{
    public const string Name = "micro-descriptor";

    /// <param name="Announce">False while the node stops: other nodes need not fetch a descriptor that is on its way out.</param>
    public sealed record SetSubscriptions(IReadOnlyList<Broker.SubscriptionInfo> Subscriptions, bool Announce = true);

    public DescriptorActor(NodeDescriptor descriptor, IActorRef mediator)
    {
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        Receive<GetDescriptor>(_ => Sender.Tell(descriptor));
        Receive<SetSubscriptions>(s =>
        {
            descriptor = descriptor with { Subscriptions = s.Subscriptions };
            if (s.Announce) mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Publish(DescriptorChanged.Topic, new DescriptorChanged(self)));
        });
    }
}
