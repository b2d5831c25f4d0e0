using Micro.Actors.Client;
using Micro.Actors.Errors;
using Micro.Actors.Registry;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Client;

/// <summary>Mistakes in what a call sends or expects are the caller's 400, found in the registry before anything leaves.</summary>
public sealed class CallShapeTests
{
    public sealed record Other(string Text);

    public class Animal;

    public sealed class Cat : Animal;

    private static readonly EndpointInfo Echo = new("Echo.Say", typeof(Ping).FullName!, typeof(Ping).FullName);
    private static readonly EndpointInfo Log = new("Log.Write", typeof(Ping).FullName!, null);

    [Fact]
    public void The_kind_of_call_the_request_type_and_the_reply_type_are_checked_against_the_descriptor()
    {
        Assert.Null(CallShape.Problem("s", Echo, oneWay: false, new CallShape(typeof(Ping), typeof(Ping))));
        Assert.Null(CallShape.Problem("s", Echo, oneWay: false, null)); // JSON: the kind only
        Assert.Null(CallShape.Problem("s", Log, oneWay: true, new CallShape(typeof(Ping), null)));

        Assert.Equal("s Echo.Say answers with a Ping: call it with CallAsync (TellAsync is for one-way endpoints)",
            CallShape.Problem("s", Echo, oneWay: true, null)?.Detail);
        Assert.Equal("s Log.Write is one-way (it sends no reply): send to it with TellAsync", CallShape.Problem("s", Log, oneWay: false, null)?.Detail);
        var request = CallShape.Problem("s", Echo, oneWay: false, new CallShape(typeof(Other), typeof(Ping)));
        Assert.Equal(400, request?.Code);
        Assert.Equal($"s Echo.Say takes a {typeof(Ping).FullName}, not a {typeof(Other).FullName}", request?.Detail);
        Assert.Equal($"s Echo.Say answers with a {typeof(Ping).FullName}, which is not a {typeof(Other).FullName}: ask for a Ping (or object)",
            CallShape.Problem("s", Echo, oneWay: false, new CallShape(typeof(Ping), typeof(Other)))?.Detail);

        // A subtype of the request, and a base type of the reply that this process can look up, are fine.
        var animals = new EndpointInfo("Zoo.Adopt", typeof(Animal).FullName!, typeof(Cat).FullName);
        Assert.Null(CallShape.Problem("s", animals, oneWay: false, new CallShape(typeof(Cat), typeof(Animal))));
        Assert.NotNull(CallShape.Problem("s", animals, oneWay: false, new CallShape(typeof(object), typeof(Animal))));
        // Declared as a base, a reply may be any of its subtypes: asking for one is the caller's informed choice.
        var declaredBase = new EndpointInfo("Zoo.Find", typeof(Ping).FullName!, typeof(Animal).FullName);
        Assert.Null(CallShape.Problem("s", declaredBase, oneWay: false, new CallShape(typeof(Ping), typeof(Cat))));
        Assert.NotNull(CallShape.Problem("s", declaredBase, oneWay: false, new CallShape(typeof(Ping), typeof(Ping))));
        // A generic type's name carries its arguments' assembly versions: another version is the same type.
        var listed = typeof(List<Ping>).FullName!;
        var older = System.Text.RegularExpressions.Regex.Replace(listed, @"Version=[\d.]+", "Version=0.9.0.0");
        Assert.NotEqual(listed, older);
        Assert.Null(CallShape.Problem("s", Echo with { ResponseType = older }, oneWay: false, new CallShape(typeof(Ping), typeof(List<Ping>))));
        // A reply type this process does not have cannot be read as anything but itself.
        var unknown = Echo with { ResponseType = "Somewhere.Else.Reply" };
        Assert.NotNull(CallShape.Problem("s", unknown, oneWay: false, new CallShape(typeof(Ping), typeof(Ping))));
    }

    [Fact]
    public async Task Across_nodes_a_wrong_call_fails_at_the_caller_and_the_handler_never_runs()
    {
        await using var cluster = new TestCluster();
        var handled = 0;
        await cluster.StartServiceAsync("shapes", s => s
            .Handle<Ping, Ping>("Echo.Say", (p, _) => { Interlocked.Increment(ref handled); return Task.FromResult(p); })
            .Handle<Ping>("Log.Write", (_, _) => { Interlocked.Increment(ref handled); return Task.CompletedTask; }));
        var caller = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(caller, "shapes", 1);

        async Task<MicroError> Fails(Func<Task> call) => (await Assert.ThrowsAsync<MicroException>(call)).Error;
        var tell = await Fails(() => caller.Client.TellAsync("shapes", "Echo.Say", new Ping("x")));
        Assert.Equal((400, "micro.client"), (tell.Code, tell.Id));
        Assert.Contains("call it with CallAsync", tell.Detail);
        Assert.Contains("send to it with TellAsync", (await Fails(() => caller.Client.CallAsync<Ping>("shapes", "Log.Write", new Ping("x")))).Detail);
        Assert.Contains($"takes a {typeof(Ping).FullName}, not a {typeof(Other).FullName}",
            (await Fails(() => caller.Client.CallAsync<Ping>("shapes", "Echo.Say", new Other("x")))).Detail);
        var reply = await Fails(() => caller.Client.CallAsync<Other>("shapes", "Echo.Say", new Ping("x")));
        Assert.Equal(400, reply.Code);
        Assert.Contains("ask for a Ping (or object)", reply.Detail);
        Assert.Equal(0, handled);

        // The right calls go through; JSON callers are checked for the kind only.
        Assert.Equal("x", (await caller.Client.CallAsync<Ping>("shapes", "Echo.Say", new Ping("x"))).Text);
        Assert.IsType<Ping>(await caller.Client.CallAsync<object>("shapes", "Echo.Say", new Ping("y")));
        await caller.Client.TellAsync("shapes", "Log.Write", new Ping("z"));
        var json = new CallOptions { ContentType = "application/json" };
        Assert.Equal("j", (await caller.Client.CallAsync<Ping>("shapes", "Echo.Say", new { text = "j" }, json)).Text);
        Assert.Contains("call it with CallAsync", (await Fails(() => caller.Client.TellAsync("shapes", "Echo.Say", new { text = "j" }, json))).Detail);
        await Eventually.TrueAsync(() => Volatile.Read(ref handled) == 4, TimeSpan.FromSeconds(5), "the four right calls handled");

        // A JSON reply is checked once it is back: one that does not fit the type asked for is the caller's 400, not the server's 500.
        var unfit = await Fails(() => caller.Client.CallAsync<int>("shapes", "Echo.Say", new { text = "j" }, json));
        Assert.Equal((400, "micro.client"), (unfit.Code, unfit.Id));
        Assert.Contains("does not fit the Int32 the caller asked for", unfit.Detail);
    }
}
