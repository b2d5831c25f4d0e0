using Micro.Actors.Contracts;
using Micro.Actors.Errors;
using Micro.Actors.Service;
using Microsoft.Extensions.DependencyInjection;
using MyService.Contracts;

namespace MyService.Tests;

/// <summary>
/// Two nodes in this process on 127.0.0.1 (free ports, a cluster of their own), shared by the tests of the class:
/// the service with its implementation, and a client-only node that calls it with the typed client.
/// </summary>
public sealed class TwoNodes : IAsyncLifetime
{
    private readonly string _cluster = "test-" + Guid.NewGuid().ToString("N")[..8];
    private MicroService _service = null!, _caller = null!;

    public IMyService Client => _caller.Client.For<IMyService>();

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        _service = MicroService.Create("myservice", o => { Local(o); o.Services = services; });
        _service.Implement<IMyService, MyServiceImplementation>();
        await _service.StartAsync();
        await _service.WhenUpAsync();

        _caller = MicroService.CreateClient(o => { Local(o); o.SeedNodes.Add(_service.Address); });
        await _caller.StartAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await _caller.Registry.GetServiceAsync("myservice", deadline.Token))?.Nodes.Count is not > 0)
            await Task.Delay(50, deadline.Token);
    }

    private void Local(MicroServiceOptions o)
    {
        o.ClusterName = _cluster;
        o.Host = "127.0.0.1";
        o.Port = 0;
    }

    public async Task DisposeAsync()
    {
        await _caller.DisposeAsync();
        await _service.DisposeAsync();
    }
}

public sealed class MyServiceTests(TwoNodes nodes) : IClassFixture<TwoNodes>
{
    [Fact]
    public async Task Hello_greets_across_two_nodes()
    {
        var reply = await nodes.Client.Hello(new HelloRequest("Ann"));
        Assert.Equal("Hello Ann", reply.Message);
    }

    [Fact]
    public async Task An_empty_name_is_a_400_at_the_caller()
    {
        var error = await Assert.ThrowsAsync<MicroException>(() => nodes.Client.Hello(new HelloRequest("")));
        Assert.Equal(400, error.Error.Code);
    }

    [Fact]
    public async Task Count_streams_every_number()
    {
        var numbers = new List<int>();
        await foreach (var count in nodes.Client.Count(new CountRequest(5))) numbers.Add(count.N);
        Assert.Equal([1, 2, 3, 4, 5], numbers);
    }
}
