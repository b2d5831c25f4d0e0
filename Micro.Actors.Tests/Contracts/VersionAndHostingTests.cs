using System.Collections.Concurrent;
using Micro.Actors.Client;
using Micro.Actors.Contracts;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Tests.Contracts;

public sealed record Item(string Sku);
public sealed record Level(string Sku, int Scope);

[MicroService("stock")]
public interface IStock
{
    Task<Level> Get(Item item, CancellationToken ct = default);
}

/// <summary>A scoped dependency, to see one per request and its disposal.</summary>
public sealed class StockScope : IDisposable
{
    private static int _next;
    public static readonly ConcurrentDictionary<int, bool> Disposed = new();
    public int Id { get; } = Interlocked.Increment(ref _next);
    public StockScope() => Disposed[Id] = false;
    public void Dispose() => Disposed[Id] = true;
}

public sealed class StockService(StockScope scope) : IStock
{
    public Task<Level> Get(Item item, CancellationToken ct = default) => Task.FromResult(new Level(item.Sku, scope.Id));
}

/// <summary>The contract's version as the typed client's filter and the node's obligation; typed clients and implementations from a host's DI.</summary>
public sealed class VersionAndHostingTests
{
    private sealed class Versioned(string version) : IVersioned
    {
        public Task<Greeting> Which(Greet request) => Task.FromResult(new Greeting(version));
    }

    [Fact]
    public async Task A_typed_client_calls_only_nodes_of_its_contracts_version_unless_its_options_choose()
    {
        await using var cluster = new TestCluster();
        var old = await cluster.StartServiceAsync("versioned",
            s => s.Handle<Greet, Greeting>("Versioned.Which", (_, _) => Task.FromResult(new Greeting("1.0.0"))), o => o.Version = "1.0.0");
        await cluster.StartServiceAsync("versioned", s => s.Implement<IVersioned>(new Versioned("2.0.0")), o => o.Version = "2.0.0");
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "versioned", 2);

        var typed = caller.Client.For<IVersioned>();
        for (var i = 0; i < 10; i++) Assert.Equal("2.0.0", (await typed.Which(new Greet("x"))).Message);

        var chosen = typed.With(new CallOptions { Filters = [Micro.Actors.Selector.Filters.Version("1.0.0")] });
        Assert.Equal("1.0.0", (await chosen.Which(new Greet("x"))).Message);
        var byAddress = caller.Client.For<IVersioned>(new CallOptions { Address = old.Address });
        Assert.Equal("1.0.0", (await byAddress.Which(new Greet("x"))).Message);
    }

    [Fact]
    public async Task Implementing_a_contract_on_the_wrong_node_fails_at_registration_saying_what_to_change()
    {
        await using var wrongVersion = MicroService.Create("versioned", o => o.Version = "1.0.0");
        var version = Assert.Throws<ArgumentException>(() => wrongVersion.Implement<IVersioned>(new Versioned("x")));
        Assert.Contains("version 2.0.0", version.Message);
        Assert.Contains("Micro:Version", version.Message);

        await using var wrongName = MicroService.Create("other");
        var name = Assert.Throws<ArgumentException>(() => wrongName.Implement<ITestGreeter, TestGreeter>());
        Assert.Contains("service contracts", name.Message);

        await using var client = MicroService.CreateClient();
        Assert.Throws<InvalidOperationException>(() => client.Implement<ITestGreeter, TestGreeter>());
    }

    [Fact]
    public async Task A_hosted_node_implements_a_contract_with_a_scoped_service_and_a_hosted_client_injects_its_typed_client()
    {
        await using var cluster = new TestCluster();
        await cluster.StartClientAsync(); // the seed

        var server = TestHost.Builder();
        server.Services.AddScoped<StockScope>();
        server.Services.AddMicroService("stock", configure: TestHost.In(cluster)).Implement<IStock, StockService>();
        using var serverHost = server.Build();
        await serverHost.StartAsync();

        var client = TestHost.Builder();
        client.Services.AddMicroClient(TestHost.In(cluster)).AddClient<IStock>();
        using var clientHost = client.Build();
        await clientHost.StartAsync();
        try
        {
            var node = clientHost.Services.GetRequiredService<MicroService>();
            await TestCluster.WaitForNodesAsync(node, "stock", 1);
            var stock = clientHost.Services.GetRequiredService<IStock>();

            var first = await stock.Get(new Item("apple"));
            var second = await stock.Get(new Item("pear"));

            Assert.Equal(("apple", "pear"), (first.Sku, second.Sku));
            Assert.NotEqual(first.Scope, second.Scope); // one implementation (and its scoped dependency) per request
            await Eventually.TrueAsync(() => StockScope.Disposed[first.Scope] && StockScope.Disposed[second.Scope], TimeSpan.FromSeconds(5),
                "each request's scope to be disposed");
        }
        finally
        {
            await clientHost.StopAsync();
            await serverHost.StopAsync();
        }
    }
}
