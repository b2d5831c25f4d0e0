using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Health;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Tests.Hosting;

/// <summary>The node's life under the host: start waits for ready (bounded), readiness, the drain on stop, a client usable before start, the user's own Akka.</summary>
public sealed class HostedLifecycleTests
{
    public sealed record Slow(string Who);

    private static async Task<HealthStatus> Health(IHost host, string tag)
    {
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains(tag));
        return report.Status;
    }

    [Fact]
    public async Task Readiness_is_unhealthy_before_the_join_and_the_start_fails_after_its_timeout_naming_the_seed()
    {
        using var dead = new DeadPort();
        var builder = TestHost.Builder(["--Micro:StartTimeout=2s"]);
        builder.Services.AddHealthChecks().AddMicroHealthChecks();
        builder.Services.AddMicroClient(o =>
        {
            o.Config = TestCluster.FastConfig;
            o.Environment = new Dictionary<string, string?>();
            o.SeedNodes.Add($"127.0.0.1:{dead.Port}");
        });
        using var host = builder.Build();
        var started = DateTime.UtcNow;
        var start = host.StartAsync();

        await Eventually.TrueAsync(() => host.Services.GetRequiredService<MicroService>().IsStarted, TimeSpan.FromSeconds(10), "the node to start");
        Assert.Equal(HealthStatus.Unhealthy, await Health(host, MicroHealthChecks.Ready));
        Assert.Equal(HealthStatus.Healthy, await Health(host, MicroHealthChecks.Live));

        var e = await Assert.ThrowsAsync<MicroException>(() => start);
        Assert.Equal(408, e.Error.Code);
        Assert.Contains("Micro:StartTimeout", e.Error.Detail);
        Assert.Contains($"127.0.0.1:{dead.Port}", e.Error.Detail);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Ready_when_joined_not_ready_while_leaving_and_in_flight_calls_finish_before_the_node_leaves()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = TestHost.Builder();
        builder.Services.AddHealthChecks().AddMicroHealthChecks();
        builder.Services.AddMicroService("slow", s => s.Handle<Slow, string>("Slow.Hello", async (r, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            return $"hello {r.Who}";
        }), TestHost.In(cluster));
        using var host = builder.Build();
        await host.StartAsync();
        Assert.Equal(HealthStatus.Healthy, await Health(host, MicroHealthChecks.Ready));
        await TestCluster.WaitForNodesAsync(caller, "slow", 1);

        var call = caller.Client.CallAsync<string>("slow", "Slow.Hello", new Slow("Ann"), new CallOptions { Timeout = TimeSpan.FromSeconds(15), Retries = 0 });
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the call is in the handler
        var stop = host.StopAsync();
        await Eventually.TrueAsync(async () => await Health(host, MicroHealthChecks.Ready) == HealthStatus.Unhealthy, TimeSpan.FromSeconds(10), "not ready while leaving");
        Assert.False(stop.IsCompleted); // still draining: the call holds it
        release.SetResult();
        Assert.Equal("hello Ann", await call);
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HealthStatus.Unhealthy, await Health(host, MicroHealthChecks.Live));
    }

    [Fact]
    public async Task A_client_resolved_before_the_host_starts_waits_for_the_node_within_the_call_deadline()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("greeter", s => s.Handle<Slow, string>("Greeter.Hello", (r, _) => Task.FromResult($"hello {r.Who}")));
        var builder = TestHost.Builder();
        builder.Services.AddMicroClient(TestHost.In(cluster));
        using var host = builder.Build();
        var client = host.Services.GetRequiredService<IClient>();

        var early = client.CallAsync<string>("greeter", "Greeter.Hello", new Slow("early"));
        await Task.Delay(300); // a call made before the host starts: it waits, it does not throw
        Assert.False(early.IsCompleted);
        await host.StartAsync();
        Assert.Equal("hello early", await early.WaitAsync(TimeSpan.FromSeconds(10)));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_call_on_a_node_nobody_starts_ends_at_its_deadline_with_a_408_that_says_why()
    {
        var builder = TestHost.Builder();
        builder.Services.AddMicroClient(o => o.Environment = new Dictionary<string, string?>());
        using var host = builder.Build();
        var client = host.Services.GetRequiredService<IClient>();
        var e = await Assert.ThrowsAsync<MicroException>(() => client.CallAsync<string>("greeter", "Greeter.Hello", new Slow("x"), new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Equal(408, e.Error.Code);
        Assert.Contains("has not been started", e.Error.Detail);
    }

    /// <summary>The user's own actor next to the service, found through Akka.Hosting's registry.</summary>
    public sealed class EchoActor : ReceiveActor
    {
        public EchoActor() => Receive<string>(s => Sender.Tell($"echo {s}"));
    }

    [Fact]
    public async Task The_users_own_actors_and_cluster_roles_live_beside_the_service()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var builder = TestHost.Builder();
        builder.Services.AddMicroService("inventory", s => s.Handle<Slow, string>("Stock.Get", (r, _) => Task.FromResult(r.Who)),
                TestHost.In(cluster, o => o.Config += "\nakka.cluster.roles = [\"worker\", \"backend\"]"))
            .WithAkka((akka, _) => akka.WithActors((system, registry) => registry.Register<EchoActor>(system.ActorOf(Props.Create<EchoActor>(), "echo"))));
        using var host = builder.Build();
        await host.StartAsync();

        var echo = await host.Services.GetRequiredService<IRequiredActor<EchoActor>>().GetAsync();
        Assert.Equal("echo hi", await echo.Ask<string>("hi", TimeSpan.FromSeconds(5)));
        var roles = Cluster.Get(host.Services.GetRequiredService<ActorSystem>()).SelfMember.Roles;
        Assert.Superset(new HashSet<string> { "worker", "backend", "inventory" }, roles.ToHashSet());

        await TestCluster.WaitForNodesAsync(caller, "inventory", 1);
        var services = await caller.Registry.ListServicesAsync();
        Assert.Equal(["inventory"], services.Select(s => s.Name)); // the user's roles are not services
        Assert.Equal("Ann", await caller.Client.CallAsync<string>("inventory", "Stock.Get", new Slow("Ann")));
        await host.StopAsync();
    }

    [Fact]
    public async Task Roles_put_over_the_services_by_the_users_own_hocon_keep_the_service_in_the_registry()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var builder = TestHost.Builder();
        builder.Services.AddMicroService("inventory", s => s.Handle<Slow, string>("Stock.Get", (r, _) => Task.FromResult(r.Who)), TestHost.In(cluster))
            .WithAkka((akka, _) => akka.AddHocon(Akka.Configuration.ConfigurationFactory.ParseString("akka.cluster.roles = [\"audit\"]"), HoconAddMode.Prepend));
        using var host = builder.Build();
        await host.StartAsync();
        var roles = Cluster.Get(host.Services.GetRequiredService<ActorSystem>()).SelfMember.Roles;
        Assert.Contains("audit", roles);
        Assert.Contains("inventory", roles);
        await TestCluster.WaitForNodesAsync(caller, "inventory", 1);
        Assert.Equal("Bo", await caller.Client.CallAsync<string>("inventory", "Stock.Get", new Slow("Bo")));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_port_in_use_fails_the_host_with_one_clear_error()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var builder = TestHost.Builder([$"--Micro:Port={port}"]);
        builder.Services.AddMicroService("inventory", configure: o => { o.Config = TestCluster.FastConfig; o.Environment = new Dictionary<string, string?>(); });
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<Micro.Actors.Config.MicroConfigException>(() => host.StartAsync());
        Assert.Contains($"cannot listen on 127.0.0.1:{port}: the address is already in use", e.Message);
        Assert.Contains("Micro:Port", e.Message);
    }
}
