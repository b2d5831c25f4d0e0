using System.Text.RegularExpressions;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MelLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Micro.Actors.Tests.Server;

/// <summary>A handler's exception stays on its server: the caller gets a 500 with an error id, the node's log the exception under it.</summary>
public sealed class HandlerFailureTests
{
    public sealed record Query(string Table);
    public sealed record Row(string Value);

    private const string Secret = "SELECT secret FROM users";
    private const string Generic = "failed on the server (error id {0}): the details are in that node's log under this id";

    /// <summary>
    /// Vault.Read throws an exception with a secret in it (Vault.Forget too, one-way); Vault.Lock refuses on purpose;
    /// Vault.Dump streams one row, then throws.
    /// </summary>
    private static void Vault(MicroService s) => s
        .Handle<Query, Row>("Vault.Read", (_, _) => throw new InvalidOperationException(Secret))
        .Handle<Query>("Vault.Forget", (_, _) => throw new InvalidOperationException(Secret + " (one-way)"))
        .Handle<Query, Row>("Vault.Lock", (_, _) => throw MicroError.Conflict("vault", "the record is locked by another session; try again in a minute").ToException())
        .HandleServerStream<Query, Row>("Vault.Dump", Dump);

    private static async IAsyncEnumerable<Row> Dump(Query query, Micro.Actors.Server.RequestContext context)
    {
        yield return new Row("first");
        await Task.Yield();
        throw new InvalidOperationException(Secret + " (streaming)");
    }

    /// <summary>The error id a detail names (and that it names one).</summary>
    private static string IdIn(MicroException e)
    {
        var match = Regex.Match(e.Error.Detail, @"\(error id ([0-9a-f]{12})\)");
        Assert.True(match.Success, $"no error id in: {e.Error.Detail}");
        Assert.Equal(match.Groups[1].Value, HandlerFailure.IdOf(e.Error));
        return match.Groups[1].Value;
    }

    private static void Hidden(MicroException e, string endpoint)
    {
        Assert.Equal(500, e.Code);
        var id = IdIn(e);
        Assert.Equal($"{endpoint} " + string.Format(Generic, id), e.Error.Detail);
        foreach (var text in new[] { e.Error.Detail, e.Message })
        {
            Assert.DoesNotContain("SELECT", text);
            Assert.DoesNotContain("secret", text);
            Assert.DoesNotContain(nameof(InvalidOperationException), text);
        }
    }

    [Fact]
    public async Task A_handlers_exception_reaches_the_caller_as_a_500_with_an_error_id_and_the_servers_log_has_it_under_that_id()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var logs = new CapturedLogs();
        var builder = TestHost.Logged(logs, "Warning");
        builder.Services.AddMicroService("vault", s =>
        {
            Vault(s);
            EchoHandler.Register(s, poolSize: 1); // an actor handler too: Akka's supervision restarts it, and must not log it again
        }, TestHost.In(cluster));
        using var host = builder.Build();
        await host.StartAsync();
        await TestCluster.WaitForNodesAsync(caller, "vault", 1);

        // One-way: nobody to tell, so only the log has it (once: not again as the one-way request's warning).
        await caller.Client.TellAsync("vault", "Vault.Forget", new Query("users"));
        await Eventually.TrueAsync(() => logs.Entries.Any(l => l.Exception?.Message == Secret + " (one-way)"), TimeSpan.FromSeconds(10), "the one-way failure's log line");
        var oneWay = Assert.Single(logs.Entries, l => l.Exception?.Message == Secret + " (one-way)");
        Assert.Equal(MelLevel.Error, oneWay.Level);
        Assert.Matches("^[0-9a-f]{12}$", (string?)oneWay["ErrorId"]);

        var actor = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Pong>("vault", "Echo.Boom", new Boom(Secret + " (actor)")));
        Hidden(actor, "Echo.Boom");
        Assert.Equal("ok", (await caller.Client.CallAsync<Pong>("vault", "Echo.Ping", new Ping("ok"))).Text); // restarted: supervision is done with it
        var function = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Row>("vault", "Vault.Read", new Query("users")));
        Hidden(function, "Vault.Read");
        Assert.Equal("vault", function.Error.Id);

        var ids = new[] { IdIn(actor), IdIn(function) };
        Assert.NotEqual(ids[0], ids[1]);
        // Logged in order, so once the second is there the first, and anything supervision would have said about it, is too.
        await Eventually.TrueAsync(() => logs.Entries.Any(l => Equals(l["ErrorId"], ids[1])), TimeSpan.FromSeconds(10), "the failure's log line");
        foreach (var (id, (message, thrower)) in ids.Zip(new[] { (Secret + " (actor)", nameof(EchoHandler)), (Secret, nameof(HandlerFailureTests)) }))
        {
            // One line per failure, at Error, with the id as a property and in the text, and the whole exception.
            var line = Assert.Single(logs.Entries, l => l.Exception?.Message == message);
            Assert.Equal(MelLevel.Error, line.Level);
            Assert.Equal(id, line["ErrorId"]);
            Assert.Contains(id, line.Message);
            Assert.Contains(message, line.Message);
            Assert.IsType<InvalidOperationException>(line.Exception);
            Assert.Contains(thrower, line.Exception!.StackTrace); // the stack trace, down to the handler that threw
        }
        Assert.DoesNotContain(logs.Entries, l => l.Message.Contains("one-way request", StringComparison.Ordinal));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_MicroException_thrown_on_purpose_keeps_its_code_and_detail()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("vault", Vault);
        var caller = await cluster.StartClientAsync();

        var e = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Row>("vault", "Vault.Lock", new Query("users")));
        Assert.Equal(MicroError.Conflict("vault", "the record is locked by another session; try again in a minute"), e.Error);
        Assert.Null(HandlerFailure.IdOf(e.Error));
    }

    public static TheoryData<string, string?, string?> DetailsOn => new()
    {
        { "micro.server.error-details = on", null, null },
        { "", "DOTNET_ENVIRONMENT", "Development" },
        { "", "ASPNETCORE_ENVIRONMENT", "Development" },
    };

    [Theory]
    [MemberData(nameof(DetailsOn))]
    public async Task With_error_details_on_or_in_Development_the_caller_gets_the_exceptions_text_and_the_id(string hocon, string? variable, string? value)
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("vault", Vault, o =>
        {
            o.Config = TestCluster.FastConfig + "\n" + hocon;
            if (variable is not null) o.Environment = new Dictionary<string, string?> { [variable] = value };
        });
        var caller = await cluster.StartClientAsync();

        var e = await Assert.ThrowsAsync<MicroException>(() => caller.Client.CallAsync<Row>("vault", "Vault.Read", new Query("users")));
        Assert.Equal(500, e.Code);
        Assert.Equal($"Vault.Read failed on the server (error id {IdIn(e)}): InvalidOperationException: {Secret}", e.Error.Detail);
        var streamed = await Assert.ThrowsAsync<MicroException>(async () => { await foreach (var _ in caller.Client.StreamAsync<Row>("vault", "Vault.Dump", new Query("users"))) { } });
        Assert.Contains($"(error id {IdIn(streamed)}): InvalidOperationException: {Secret} (streaming)", streamed.Error.Detail);
    }

    [Fact]
    public async Task A_streaming_handlers_failure_does_not_reach_the_caller_either()
    {
        await using var cluster = new TestCluster();
        await cluster.StartServiceAsync("vault", Vault, o => o.Environment = new Dictionary<string, string?> { ["DOTNET_ENVIRONMENT"] = "Production" });
        var caller = await cluster.StartClientAsync();

        var rows = new List<string>();
        var e = await Assert.ThrowsAsync<MicroException>(async () =>
        {
            await foreach (var row in caller.Client.StreamAsync<Row>("vault", "Vault.Dump", new Query("users"))) rows.Add(row.Value);
        });
        Assert.Equal(["first"], rows); // what came before the failure still came
        Hidden(e, "Vault.Dump");
    }

    [Theory]
    [InlineData("on", null, null, true)]
    [InlineData("OFF", "Development", "Development", false)]
    [InlineData("auto", null, null, false)]
    [InlineData("auto", null, "Development", true)]
    [InlineData("auto", "Production", "Development", false)] // the host's environment decides, where there is a host
    [InlineData("auto", "Development", null, true)]
    public void Auto_is_on_in_Development_the_hosts_environment_first(string value, string? host, string? variable, bool on)
    {
        var options = new MicroServiceOptions { Config = $"micro.server.error-details = {value}" };
        options.HostEnvironment = host;
        var settings = MicroSettings.Resolve(MicroConfig.Load(options.Config), options, new Dictionary<string, string?> { ["DOTNET_ENVIRONMENT"] = variable });
        Assert.Equal(on, settings.ErrorDetails);
    }

    [Fact]
    public void A_hosted_node_takes_the_hosts_environment()
    {
        var builder = TestHost.Builder();
        builder.Environment.EnvironmentName = Environments.Development;
        builder.Services.AddMicroService("vault", configure: o => o.Environment = new Dictionary<string, string?>());
        using var host = builder.Build();
        Assert.True(host.Services.GetRequiredService<MicroService>().Settings.ErrorDetails);
    }

    [Theory]
    [InlineData("micro.server.error-details = sometimes")]
    [InlineData("micro.server.error-details = \"\"")]
    public void A_bad_error_details_value_names_the_setting(string hocon)
    {
        var e = Assert.Throws<MicroConfigException>(() => MicroService.Create("vault", o =>
        {
            o.Config = hocon;
            o.Environment = new Dictionary<string, string?>();
        }));
        Assert.Equal("micro.server.error-details", e.Setting);
        Assert.Contains("use auto (on in Development), on or off", e.Message);
    }
}
