using System.Collections.Concurrent;
using Micro.Actors.Client;
using Micro.Actors.Hosting;
using Micro.Actors.Selector;
using Micro.Actors.Tests.Support;
using Micro.Actors.Wrappers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Tests.Wrappers;

/// <summary>
/// Wrappers and a selector registered in the host's DI are a hosted node's (wrappers inside those of its options);
/// a registry and a broker of one's own are made with the host's services.
/// </summary>
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

    [Fact]
    public async Task A_registry_and_a_broker_made_with_the_hosts_services_are_the_hosted_nodes_and_DIs()
    {
        await using var cluster = new TestCluster();
        var listed = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s)); // a second node, not listed: never called
        await TestCluster.WaitForNodesAsync(listed, "echo", 2);
        var known = (await listed.Registry.GetServiceAsync("echo"))!.Nodes.Single(n => n.HostPort == listed.Address);
        var only = new Micro.Actors.Registry.ServiceNode(known.Id, known.Address, "echo", "1.0", new Dictionary<string, string>(), known.Endpoints,
            Micro.Actors.Registry.NodeStatus.Up);

        var builder = TestHost.Builder();
        builder.Services.AddSingleton(new Tests.Registry.StaticRegistry([only])).AddSingleton<Tests.Broker.InProcessBroker>();
        builder.Services.AddMicroClient(TestHost.In(cluster))
            .WithRegistry((_, sp) => sp.GetRequiredService<Tests.Registry.StaticRegistry>())
            .WithBroker((_, sp) => sp.GetRequiredService<Tests.Broker.InProcessBroker>());
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var client = host.Services.GetRequiredService<IClient>();
            for (var i = 0; i < 10; i++)
                Assert.Equal(listed.Address, (await client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{i}"), new CallOptions { Timeout = TimeSpan.FromSeconds(10) })).Node);
            // DI's IRegistry reads the plugged one: of two echo nodes in the cluster, only the listed one.
            var echo = await host.Services.GetRequiredService<Micro.Actors.Registry.IRegistry>().GetServiceAsync("echo");
            Assert.Equal(listed.Address, Assert.Single(echo!.Nodes).HostPort);

            var broker = host.Services.GetRequiredService<Tests.Broker.InProcessBroker>();
            var heard = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var subscription = await host.Services.GetRequiredService<Micro.Actors.Broker.IBroker>()
                .SubscribeAsync<Note>("notes", (n, _) => { heard.TrySetResult(n.Text); return Task.CompletedTask; });
            await client.PublishAsync("notes", new Note("through DI's broker"));
            Assert.Equal("through DI's broker", await heard.Task.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(1, broker.Published);
        }
        finally { await host.StopAsync(); }
    }
}
