using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Configuration;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Micro.Actors.Tests.Hosting;

/// <summary>Settings from appsettings.json, environment variables and the command line, checked at start with the key named.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"micro-appsettings-{Guid.NewGuid():N}.json");
    private readonly string _prefix = $"MICROTEST{Guid.NewGuid():N}_"[..20];

    public void Dispose()
    {
        File.Delete(_json);
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith(_prefix, StringComparison.Ordinal)))
            Environment.SetEnvironmentVariable(key, null);
    }

    private static MicroService Node(HostApplicationBuilder builder, Action<MicroServiceOptions>? configure = null)
    {
        builder.Services.AddMicroService("inventory", configure: o => { o.Environment = new Dictionary<string, string?>(); configure?.Invoke(o); });
        return builder.Build().Services.GetRequiredService<MicroService>();
    }

    [Fact]
    public void Appsettings_environment_and_command_line_all_set_the_node_with_the_command_line_first()
    {
        File.WriteAllText(_json, """
            { "Micro": { "Version": "1.0.0", "Port": 4100, "SeedNodes": ["127.0.0.1:4053", "127.0.0.1:4054"],
                         "Client": { "Retries": 3, "RequestTimeout": "2s" }, "Metadata": { "region": "eu" } } }
            """);
        Environment.SetEnvironmentVariable($"{_prefix}Micro__Client__RequestTimeout", "00:00:07");
        Environment.SetEnvironmentVariable($"{_prefix}Micro__Server__PoolSize", "5");
        // As WebApplication.CreateBuilder orders them: appsettings.json, then the environment, then the command line.
        var builder = TestHost.Builder(["--Micro:Version=3.0.0", "--Micro:Client:Strategy=round-robin"],
            sources: c => c.AddJsonFile(_json, optional: false).AddEnvironmentVariables(_prefix));

        var settings = Node(builder).Settings;

        Assert.Equal("3.0.0", settings.Version);                      // command line over appsettings
        Assert.Equal(4100, settings.Port);                            // appsettings
        Assert.Equal(["127.0.0.1:4053", "127.0.0.1:4054"], settings.SeedNodes.Select(s => s.ToString()));
        Assert.Equal(3, settings.Retries);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.RequestTimeout); // environment over appsettings, in .NET's TimeSpan form
        Assert.Equal(5, settings.PoolSize);
        Assert.Equal("round-robin", settings.Strategy);
    }

    [Fact]
    public void Code_wins_over_configuration_and_configuration_over_the_options_own_hocon()
    {
        var builder = TestHost.Builder(["--Micro:Version=2.0.0", "--Micro:Client:Retries=4"]);
        var settings = Node(builder, o =>
        {
            o.Version = "9.9.9";
            o.Config = "micro.client.retries = 1\nmicro.server.queue-size = 7";
        }).Settings;
        Assert.Equal("9.9.9", settings.Version);
        Assert.Equal(4, settings.Retries);
        Assert.Equal(7, settings.QueueSize);
    }

    [Theory]
    [InlineData("--Micro:Port=http", "Bad setting Micro:Port = 'http'")]
    [InlineData("--Micro:Port=70000", "Bad setting Micro:Port = '70000': 70000 is not a port number")]
    [InlineData("--Micro:Client:RequestTimeout=soon", "Bad setting Micro:Client:RequestTimeout = 'soon'")]
    [InlineData("--Micro:Client:Strategy=fastest", "Bad setting Micro:Client:Strategy = 'fastest': 'fastest' is not a strategy")]
    [InlineData("--Micro:SeedNodes:0=localhost", "Bad setting Micro:SeedNodes = 'localhost': 'localhost' is not host:port")]
    [InlineData("--Micro:Prot=4053", "Micro:Prot is not a Micro.Actors setting")]
    [InlineData("--Micro:Client:Retrys=2", "Micro:Client:Retrys is not a Micro.Actors setting (it would be micro.client.retrys)")]
    public async Task A_bad_value_fails_the_host_at_start_naming_the_key_and_the_value(string argument, string expected)
    {
        var builder = TestHost.Builder([argument]);
        builder.Services.AddMicroService("inventory", configure: o => o.Environment = new Dictionary<string, string?>());
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("RequestTimeout", "request-timeout")]
    [InlineData("SeedNodes", "seed-nodes")]
    [InlineData("seed-nodes", "seed-nodes")]
    [InlineData("TrustSystemStore", "trust-system-store")]
    [InlineData("Port", "port")]
    [InlineData("TLSCertificate", "tls-certificate")]
    public void Keys_map_to_hocon_by_one_rule(string key, string hocon) => Assert.Equal(hocon, MicroConfiguration.Kebab(key));

    [Fact]
    public void A_list_takes_indexed_keys_or_one_comma_separated_value_and_labels_are_metadata()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Micro:SeedNodes"] = "127.0.0.1:1, 127.0.0.1:2",
            ["Micro:Serialization:AllowedTypes:0"] = "MyCompany.Contracts",
            ["Micro:Metadata:region"] = "eu",
            ["Micro:Server:DrainTimeout"] = "00:00:01.500",
        }).Build();
        var read = MicroConfiguration.Read(config);
        Assert.Empty(read.Problems);
        var hocon = Akka.Configuration.ConfigurationFactory.ParseString(read.Hocon);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2"], hocon.GetStringList("micro.seed-nodes"));
        Assert.Equal(["MyCompany.Contracts"], hocon.GetStringList("micro.serialization.allowed-types"));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), hocon.GetTimeSpan("micro.server.drain-timeout"));
        Assert.Equal("eu", read.Metadata["region"]);
    }

    [Fact]
    public void A_cluster_name_that_changes_after_AddMicroService_fails_clearly()
    {
        var builder = TestHost.Builder();
        builder.Services.AddMicroService("inventory", configure: o => o.Environment = new Dictionary<string, string?>());
        builder.Services.Configure<MicroServiceOptions>(o => o.ClusterName = "other");
        using var host = builder.Build();
        var e = Assert.Throws<Micro.Actors.Config.MicroConfigException>(() => host.Services.GetRequiredService<MicroService>());
        Assert.Contains("Micro:ClusterName", e.Message);
        Assert.Contains("'micro'", e.Message);
    }

    [Fact]
    public void One_node_per_host()
    {
        var builder = TestHost.Builder();
        builder.Services.AddMicroService("inventory");
        var e = Assert.Throws<InvalidOperationException>(() => builder.Services.AddMicroClient());
        Assert.Contains("one Micro.Actors node", e.Message);
    }
}
