using System.Collections.Concurrent;
using Micro.Actors.Client;
using Micro.Actors.Hosting;
using Micro.Actors.Selector;
using Micro.Actors.Tests.Support;
using Micro.Actors.Wrappers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Tests.Wrappers;

/// <summary>Wrappers and a selector registered in the host's DI are a hosted node's (wrappers inside those of its options).</summary>
public sealed class HostedWrapperTests
{
    public sealed class Trail
    {
        public ConcurrentQueue<string> Steps { get; } = new();
    }

    /// <summary>A wrapper made by DI, with a dependency of its own; it reads the request's own scope.</summary>
    public sealed class Stamp(Trail trail) : IHandlerWrapper
    {
        public Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next)
        {
            trail.Steps.Enqueue($"di {handler.Endpoint} scope={handler.Request.Services.GetService<Trail>() is not null}");
            handler.Headers["x-stamp"] = "di";
            return next(handler);
        }
    }

    public sealed class CountingSelector : ISelector
    {
        public int Picks;
        public Micro.Actors.Registry.ServiceNode Select(IReadOnlyList<Micro.Actors.Registry.ServiceNode> candidates)
        {
            Interlocked.Increment(ref Picks);
            return candidates[0];
        }
    }

    [Fact]
    public async Task Handler_wrappers_and_a_selector_from_DI_are_the_hosted_nodes()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var builder = TestHost.Builder();
        builder.Services.AddSingleton<Trail>().AddSingleton<IHandlerWrapper, Stamp>().AddSingleton<ISelector, CountingSelector>();
        builder.Services.AddMicroService("stamped", s => s.Handle<Ping, Heard>("Stamp.Get", (p, c) => Task.FromResult(new Heard(p.Text, c.Headers))),
            TestHost.In(cluster, o => o.Wrappers.AddHandler((h, next) =>
            {
                h.Headers["x-stamp"] = "options";
                return next(h);
            })));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            await TestCluster.WaitForNodesAsync(caller, "stamped", 1);
            var heard = await caller.Client.CallAsync<Heard>("stamped", "Stamp.Get", new Ping("hi"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) });

            Assert.Equal("di", heard.Headers["x-stamp"]); // the options' wrapper ran first, DI's inside it
            Assert.Equal(["di Stamp.Get scope=True"], host.Services.GetRequiredService<Trail>().Steps);
            // The selector registered in DI is the hosted node's default: its own call to itself goes through it.
            var node = host.Services.GetRequiredService<Micro.Actors.Service.MicroService>();
            await node.Client.CallAsync<Heard>("stamped", "Stamp.Get", new Ping("me"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) });
            Assert.Equal(1, ((CountingSelector)host.Services.GetRequiredService<ISelector>()).Picks);
        }
        finally { await host.StopAsync(); }
    }
}
