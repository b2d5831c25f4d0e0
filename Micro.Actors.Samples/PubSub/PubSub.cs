using Micro.Actors.Broker;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Samples.PubSub;

/// <summary>The sample event: a number and a line of text.</summary>
public sealed record Tick(int Number, string Text);

public static class PubSubSamples
{
    /// <summary>Runs a subscriber service until stopped; one stdout line per event.</summary>
    /// <param name="failEvery">When given, the handler throws on every event whose number is a multiple of it (to see retries and dead letters).</param>
    public static async Task<int> RunSubscriber(Action<MicroServiceOptions> node, string topic, string? queue, CancellationToken ct, int? failEvery = null)
    {
        if (failEvery is < 1) return Program.Fail(Program.BadInput, "--fail-every must be 1 or more");
        using var host = SampleHost.Build("subscriber", s => s.AddMicroService("subscriber", service => service.Subscribe<Tick>(topic, (tick, e) =>
        {
            if (failEvery is { } every && tick.Number % every == 0)
                throw new InvalidOperationException($"event {tick.Number} fails on purpose (--fail-every {every})");
            Console.WriteLine($"event {tick.Number} {tick.Text} (topic {e.Topic}{(e.Queue is null ? "" : ", queue " + e.Queue)}, id {e.Id})");
            return Task.CompletedTask;
        }, queue), node));
        await host.RunAsync(ct).ConfigureAwait(false);
        return Program.Ok;
    }

    /// <summary>Waits (bounded) until the topic has subscribers, publishes 1..count, exits.</summary>
    public static async Task<int> RunPublisher(Action<MicroServiceOptions> node, string topic, int count, TimeSpan wait, CancellationToken ct)
    {
        if (count < 1) return Program.Fail(Program.BadInput, "--count must be 1 or more");
        using var host = SampleHost.Client("publisher", o => { node(o); o.Config = $"micro.start-timeout = {wait.TotalSeconds}s"; });
        await host.StartAsync(ct).ConfigureAwait(false);
        var broker = host.Services.GetRequiredService<IBroker>();
        await broker.WaitForSubscribersAsync(topic, wait, ct).ConfigureAwait(false);
        for (var i = 1; i <= count; i++)
        {
            await broker.PublishAsync(topic, new Tick(i, $"tick {i} of {count}"),
                new PublishOptions { WaitForSubscribers = wait }, ct).ConfigureAwait(false);
            Console.WriteLine($"published {i}");
        }
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return Program.Ok;
    }
}
