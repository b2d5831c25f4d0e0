using System.Text.Json;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Samples;

/// <summary>
/// A cluster without static seeds: three greeter processes that list each other's management endpoints
/// (Akka.Discovery's config method) form one cluster through Akka.Management's Cluster Bootstrap.
/// </summary>
[Collection(ProcessesLane.Name)]
public sealed class BootstrapProcessTests
{
    [Fact]
    public async Task Three_processes_that_list_each_other_form_one_cluster_without_seed_nodes()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => (Node: TestCluster.FreePort(), Management: TestCluster.FreePort())).ToList();
        var endpoints = string.Join(",", ports.Select(p => $"127.0.0.1:{p.Management}"));
        var greeters = ports.Select(p => ProcessRunner.StartSample(new Dictionary<string, string>
        {
            ["Micro__Discovery__Method"] = "config",
            ["Micro__Discovery__Endpoints"] = endpoints,
            ["Micro__Discovery__ManagementPort"] = $"{p.Management}",
            ["Micro__Discovery__RequiredContactPoints"] = "3",
        }, "greeter", "--port", $"{p.Node}")).ToList();
        try
        {
            foreach (var g in greeters) await g.WaitForLogAsync("is Up in cluster", TimeSpan.FromSeconds(90));
            foreach (var g in greeters) Assert.Contains(g.Stderr, l => l.Contains("joining through discovery"));

            // Any of them answers for the whole cluster: one greeter service of three nodes.
            using var cli = ProcessRunner.Start("dotnet", [ProcessRunner.Built("Micro.Actors.Cli", "micro.dll"), "services", "-o", "json", "--seed", $"127.0.0.1:{ports[2].Node}"]);
            Assert.Equal(0, await cli.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var greeter = JsonDocument.Parse(string.Join("\n", cli.Stdout)).RootElement.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "greeter");
            Assert.Equal(3, greeter.GetProperty("nodes").GetInt32());
        }
        finally
        {
            foreach (var g in greeters) g.Terminate();
            foreach (var g in greeters)
            {
                try { await g.WaitForExitAsync(TimeSpan.FromSeconds(30)); }
                finally { g.Dispose(); }
            }
        }
    }
}
