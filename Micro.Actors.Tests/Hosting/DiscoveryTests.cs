using Akka.Actor;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Micro.Actors.Tests.Hosting;

/// <summary>The discovery settings: checked with the key named, and the Kubernetes API wired through the same option (no cluster is reachable here).</summary>
public sealed class DiscoveryTests
{
    public static TheoryData<string[], string> BadSettings => new()
    {
        { ["--Micro:Discovery:Method=consul"], "Bad setting Micro:Discovery:Method = 'consul': 'consul' is not a discovery method" },
        { ["--Micro:Discovery:Method=config"], "Bad setting micro.discovery.endpoints: discovery by config needs the management endpoints" },
        { ["--Micro:Discovery:Method=config", "--Micro:Discovery:Endpoints:0=127.0.0.1:1", "--Micro:Discovery:RequiredContactPoints=0"],
            "Bad setting Micro:Discovery:RequiredContactPoints = '0': 0: use 1 or more" },
        { ["--Micro:Discovery:Method=config", "--Micro:Discovery:Endpoints:0=somewhere"], "Bad setting Micro:Discovery:Endpoints = 'somewhere': 'somewhere' is not host:port" },
        { ["--Micro:Discovery:Method=config", "--Micro:Discovery:Endpoints:0=127.0.0.1:1", "--Micro:Discovery:ManagementPort=abc"],
            "Bad setting Micro:Discovery:ManagementPort = 'abc': 'abc' is not a whole number" },
        { ["--Micro:StartTimeout=soon"], "Bad setting Micro:StartTimeout = 'soon': 'soon' is not a duration" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Bad_discovery_settings_fail_the_start_with_the_key_named(string[] args, string expected)
    {
        var builder = TestHost.Builder(args);
        builder.Services.AddMicroClient(o => o.Environment = new Dictionary<string, string?>());
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task The_kubernetes_api_method_loads_Akkas_Kubernetes_discovery_and_a_node_that_finds_no_pods_fails_its_start_saying_so()
    {
        var management = TestCluster.FreePort();
        var builder = TestHost.Builder(["--Micro:Discovery:Method=kubernetes-api", $"--Micro:Discovery:ManagementPort={management}",
            "--Micro:Discovery:Kubernetes:Namespace=shop", "--Micro:StartTimeout=3s"]);
        builder.Services.AddMicroService("inventory", configure: o => { o.Port = 0; o.Config = TestCluster.FastConfig; o.Environment = new Dictionary<string, string?>(); });
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<MicroException>(() => host.StartAsync());
        Assert.Contains("no cluster formed through the Kubernetes API yet", e.Error.Detail);
        Assert.Contains("pod(s) labelled 'app=micro'", e.Error.Detail);

        var config = host.Services.GetRequiredService<ActorSystem>().Settings.Config;
        Assert.Equal("kubernetes-api", config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
        Assert.StartsWith("Akka.Discovery.KubernetesApi.KubernetesApiServiceDiscovery", config.GetString("akka.discovery.kubernetes-api.class"));
        Assert.Equal("shop", config.GetString("akka.discovery.kubernetes-api.pod-namespace"));
        Assert.Equal("management", config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.port-name"));
    }
}
