using Akka.Actor;
using Akka.Event;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Logging;
using Micro.Actors.Server;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MelLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Micro.Actors.Tests.Hosting;

/// <summary>One log stream: Akka's and Micro.Actors' events through ILogger, per component, structured, levels from configuration.</summary>
public sealed class LoggingTests
{
    public sealed record Order(string Item);

    public sealed class OrderHandler : MicroHandler
    {
        public OrderHandler(ILogger<OrderHandler> log) =>
            Receive<Order>(o =>
            {
                log.LogInformation("Taking an order of {Item}", o.Item);
                Sender.Tell(Request.Id);
            });
    }

    [Fact]
    public async Task Akka_and_Micro_Actors_log_through_ILogger_per_component_structured_with_levels_from_configuration_and_the_request_in_scope()
    {
        await using var cluster = new TestCluster();
        var caller = await cluster.StartClientAsync();
        var logs = new CapturedLogs();
        var builder = TestHost.Builder(settings: new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Micro.Actors.Registry"] = "Warning",  // a component turned down
        });
        builder.Logging.AddProvider(logs);
        builder.Services.AddMicroService("orders", s => s.Handle<OrderHandler>("Orders", e => e.Map<Order, string>("Take")),
            TestHost.In(cluster));
        using var host = builder.Build();
        await host.StartAsync();
        await TestCluster.WaitForNodesAsync(caller, "orders", 1);
        var id = await caller.Client.CallAsync<string>("orders", "Orders.Take", new Order("tea"));
        await host.StopAsync();

        var entries = logs.Entries;
        // Akka's own events, per component (the class that logged, or Akka's named source).
        Assert.Contains(entries, e => e.Category == "Akka.Cluster" && e.Message.Contains("Started up successfully"));
        Assert.Contains(entries, e => e.Category == "Akka.Remote" && e.Message.StartsWith("Remoting started"));
        // Micro.Actors' events, structured: the template and its named values.
        var started = Assert.Single(entries, e => e.Category == "Micro.Actors.Service.MicroService" && e.Message.Contains("started at"));
        Assert.Equal("{Service} {Version} started at {Address}; joining {Seeds}", started["{OriginalFormat}"]);
        Assert.Equal("orders", started["Service"]);
        // Levels per category from Logging:LogLevel: the registry's Information events are gone, Debug nowhere.
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("Micro.Actors.Registry", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Level == MelLevel.Debug);
        // A handler's own log has the request in scope.
        var taken = Assert.Single(entries, e => e.Message == "Taking an order of tea");
        Assert.Equal(id, taken.Scoped("RequestId"));
        Assert.Equal("orders", taken.Scoped("Service"));
        Assert.Equal("Orders.Take", taken.Scoped("Endpoint"));
        // Nothing alarming in a start, a call and a graceful stop.
        Assert.DoesNotContain(entries, e => e.Level >= MelLevel.Warning);
    }

    private static LogEvent Warn(string message, Exception? cause = null, Type? source = null) =>
        new Warning(cause, "akka.tcp://micro@127.0.0.1:1/system/endpointManager", source ?? typeof(LoggingTests), message);

    [Fact]
    public void A_peer_closing_its_connection_is_information_without_a_stack_trace_and_the_supervisors_echo_debug()
    {
        var disassociated = (Exception)Activator.CreateInstance(typeof(Akka.Remote.RemoteSettings).Assembly.GetType("Akka.Remote.EndpointDisassociatedException")!, "Disassociated")!;
        Assert.Equal((MelLevel.Information, false), RoutineEvents.Classify(Warn("Association with remote system has failed; address is now gated for 5000 ms", disassociated)));
        Assert.Equal((MelLevel.Debug, false), RoutineEvents.Classify(new Error(disassociated, "supervisor", typeof(OneForOneStrategy), "Disassociated")));
        // The association's supervisor names the disassociation as an argument of its message, not as the cause.
        var supervisor = new Warning("akka.tcp://micro@127.0.0.1:1/system/endpointManager/reliableEndpointWriter", typeof(LoggingTests),
            new Arguments("Association with remote system {0} has failed; address is now gated for {1} ms. Reason is: [{2}]", "akka.tcp://micro@127.0.0.1:2", 5000.0, disassociated));
        Assert.Equal((MelLevel.Information, false), RoutineEvents.Classify(supervisor));
        var refused = new Warning("x", typeof(LoggingTests), new Arguments("Association with remote system {0} has failed", "y", new InvalidOperationException("refused")));
        Assert.Equal((MelLevel.Warning, true), RoutineEvents.Classify(refused));
    }

    /// <summary>A log message with its arguments, as Akka's own logging adapter makes them.</summary>
    private sealed class Arguments(string format, params object[] values) : LogMessage(DefaultLogMessageFormatter.Instance, format)
    {
        public override IEnumerable<object> Parameters() => values;
        public override string Unformatted() => Format;
        public override string ToString() => string.Format(Format, values);
    }

    [Fact]
    public void Gossip_to_a_member_that_left_is_debug_and_anything_else_keeps_its_level_and_cause()
    {
        var deadGossip = new Info("deadLetters", typeof(LoggingTests), "Message [GossipStatus] from [akka://micro/system/cluster/core/daemon] to [akka://micro/deadLetters] was not delivered. [2] dead letters encountered.");
        Assert.Equal((MelLevel.Debug, false), RoutineEvents.Classify(deadGossip));
        var deadMine = new Info("deadLetters", typeof(LoggingTests), "Message [Order] from [x] to [y] was not delivered. [3] dead letters encountered.");
        Assert.Equal((MelLevel.Information, true), RoutineEvents.Classify(deadMine));
        var unreachable = Warn("Marking node as UNREACHABLE [Member(address = akka.tcp://micro@127.0.0.1:2)]");
        Assert.Equal((MelLevel.Warning, true), RoutineEvents.Classify(unreachable));
        Assert.Equal((MelLevel.Error, true), RoutineEvents.Classify(new Error(new InvalidOperationException("boom"), "x", typeof(LoggingTests), "handler failed")));
    }

    [Theory]
    [InlineData("Cluster (akka://micro)", "Akka.Cluster")]
    [InlineData("remoting (akka://micro)", "Akka.Remote")]
    [InlineData("remoting-terminator", "Akka.Remote")]
    [InlineData("akka.tcp://micro@127.0.0.1:4053/system/cluster", "Akka")]
    [InlineData("", "Akka")]
    public void Akkas_named_sources_get_a_category_of_their_component(string source, string category) =>
        Assert.Equal(category, MicroLogger.FromSource(source));
}
