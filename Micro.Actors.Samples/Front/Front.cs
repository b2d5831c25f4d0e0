using Micro.Actors.Contracts;
using Micro.Actors.Client;
using Micro.Actors.Samples.Greeter;
using Micro.Actors.Samples.PubSub;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.Samples.Front;

/// <summary>
/// A service in front of another: Front.Hello greets through the greeter, then publishes the greeting on
/// <see cref="Topic"/> (as a <see cref="Tick"/>, so the subscriber sample prints it). One call, three services:
/// what a trace across processes follows.
/// </summary>
public static class FrontService
{
    public const string Name = "front";
    public const string Topic = "greetings";

    public static MicroService AddFront(this MicroService service)
    {
        var greetings = 0;
        return service.Handle<HelloRequest, HelloReply>("Front.Hello", async (request, context) =>
        {
            var client = context.Services.GetRequiredService<IClient>();
            var reply = await client.For<IGreeter>().Hello(request, context.Cancellation);
            await client.PublishAsync(Topic, new Tick(Interlocked.Increment(ref greetings), reply.Message), cancellationToken: context.Cancellation);
            return reply;
        });
    }
}
