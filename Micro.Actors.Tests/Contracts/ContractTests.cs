using System.Threading.Channels;
using Micro.Actors.Client;
using Micro.Actors.Contracts;
using Micro.Actors.Errors;
using Micro.Actors.Metadata;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.Tests.Contracts;

/// <summary>Every shape of a generated contract across two real nodes: the typed client, the binding, errors, deadlines and cancellation.</summary>
public sealed class ContractTests(ContractTests.Nodes nodes) : IClassFixture<ContractTests.Nodes>
{
    /// <summary>A node serving ITestGreeter (made by DI per request) and a client-only node.</summary>
    public sealed class Nodes : IAsyncLifetime
    {
        public readonly TestCluster Cluster = new();
        public readonly Seen Seen = new();
        public MicroService Server = null!, Caller = null!;

        public ITestGreeter Greeter => Caller.Client.For<ITestGreeter>();

        public async Task InitializeAsync()
        {
            var services = new ServiceCollection().AddSingleton(Seen).BuildServiceProvider();
            Server = await Cluster.StartServiceAsync("contracts", s => s.Implement<ITestGreeter, TestGreeter>(), o => o.Services = services);
            Caller = await Cluster.StartClientAsync();
            await TestCluster.WaitForNodesAsync(Caller, "contracts", 1);
        }

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_typed_call_and_a_string_call_reach_the_same_endpoint()
    {
        var typed = await nodes.Greeter.Hello(new Greet("Ann"));
        var untyped = await nodes.Caller.Client.CallAsync<Greeting>("contracts", "Greeter.Hello", new Greet("Ann"));

        Assert.Equal("Hello, Ann", typed.Message);
        Assert.Equal(typed, untyped);
    }

    [Fact]
    public async Task The_implementation_is_made_for_each_request_and_disposed_after_it()
    {
        var before = Volatile.Read(ref nodes.Seen.Disposed);
        for (var i = 0; i < 3; i++) await nodes.Greeter.Hello(new Greet("Ann"));

        // Disposal follows the reply by a moment: it runs after the handler answered.
        await Eventually.TrueAsync(() => Volatile.Read(ref nodes.Seen.Disposed) >= before + 3, TimeSpan.FromSeconds(5), "three implementations disposed");
    }

    [Fact]
    public async Task A_one_way_method_is_told_and_reaches_the_implementation()
    {
        var text = "note " + Guid.NewGuid().ToString("N")[..6];
        await nodes.Greeter.Audit(new Note(text));

        await Eventually.TrueAsync(() => nodes.Seen.Notes.Contains(text), TimeSpan.FromSeconds(5), "the note to arrive");
    }

    [Fact]
    public async Task A_server_stream_yields_every_item_and_stopping_early_cancels_the_implementation()
    {
        var all = new List<int>();
        await foreach (var tick in nodes.Greeter.Count(new CountTo(5))) all.Add(tick.I);
        Assert.Equal([1, 2, 3, 4, 5], all);

        var cancelledBefore = nodes.Seen.Events.Count(e => e == "count cancelled");
        await foreach (var tick in nodes.Greeter.Count(new CountTo(10_000)))
            if (tick.I == 3) break;
        await Eventually.TrueAsync(() => nodes.Seen.Events.Count(e => e == "count cancelled") > cancelledBefore, TimeSpan.FromSeconds(10),
            "the server's stream to see the caller leave");
    }

    [Fact]
    public async Task A_client_stream_and_a_bidirectional_stream_carry_every_item()
    {
        var total = await nodes.Greeter.Sum(Items(Enumerable.Range(1, 100).Select(i => new Number(i))));
        Assert.Equal(new Total(5050, 100), total);

        var lines = Channel.CreateUnbounded<Line>();
        var replies = new List<string>();
        await lines.Writer.WriteAsync(new Line("one"));
        await foreach (var echoed in nodes.Greeter.Chat(lines.Reader.ReadAllAsync()))
        {
            replies.Add(echoed.Text);
            if (replies.Count == 1) await lines.Writer.WriteAsync(new Line("two"));
            else lines.Writer.Complete();
        }
        Assert.Equal(["ONE", "TWO"], replies);
    }

    [Fact]
    public async Task An_implementations_errors_reach_the_typed_caller_with_their_codes()
    {
        var conflict = await Assert.ThrowsAsync<MicroException>(() => nodes.Greeter.Broken(new Greet("conflict")));
        Assert.Equal(409, conflict.Error.Code);
        Assert.Contains("already greeted", conflict.Error.Detail);

        var broken = await Assert.ThrowsAsync<MicroException>(() => nodes.Greeter.Broken(new Greet("Bob")));
        Assert.Equal(500, broken.Error.Code);

        // The renamed method answers at its endpoint's name, for string callers too.
        var byName = await Assert.ThrowsAsync<MicroException>(() => nodes.Caller.Client.CallAsync<Greeting>("contracts", "Greeter.Fail", new Greet("conflict")));
        Assert.Equal(409, byName.Error.Code);
    }

    [Fact]
    public async Task Per_call_options_give_a_deadline_that_cancels_the_implementation()
    {
        var quick = nodes.Greeter.With(new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        var cancelledBefore = nodes.Seen.Events.Count(e => e == "slow cancelled");

        var late = await Assert.ThrowsAsync<MicroException>(() => quick.Slow(new Greet("Ann"), CancellationToken.None));

        Assert.Equal(408, late.Error.Code);
        await Eventually.TrueAsync(() => nodes.Seen.Events.Count(e => e == "slow cancelled") > cancelledBefore, TimeSpan.FromSeconds(5),
            "the implementation's token to be cancelled at the deadline");
    }

    [Fact]
    public async Task The_callers_token_cancels_a_typed_call()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => nodes.Greeter.Slow(new Greet("Ann"), cancel.Token));
    }

    [Fact]
    public async Task Metadata_and_headers_reach_the_implementation()
    {
        var withHeader = nodes.Greeter.With(new CallOptions { Headers = new Dictionary<string, string> { ["tenant"] = "acme" } });
        Assert.Equal("acme", (await withHeader.Hello(new Greet("Ann"))).Tenant);

        using (MetadataContext.With("tenant", "ambient"))
            Assert.Equal("ambient", (await nodes.Greeter.Hello(new Greet("Ann"))).Tenant);
    }

    [Fact]
    public async Task An_unknown_service_fails_the_typed_call_with_404()
    {
        // A contract whose service nobody runs here.
        var missing = await Assert.ThrowsAsync<MicroException>(() => nodes.Caller.Client.For<IVersioned>().Which(new Greet("Ann")));
        Assert.Equal(404, missing.Error.Code);
    }

    [Fact]
    public void What_is_not_a_contract_is_named_as_such()
    {
        var notContract = Assert.Throws<InvalidOperationException>(() => nodes.Caller.Client.For<IDisposable>());
        Assert.Contains("not a service contract", notContract.Message);
        var notTyped = Assert.Throws<ArgumentException>(() => new Plain().With(CallOptions.Default));
        Assert.Contains("not a typed client", notTyped.Message);
    }

    private sealed class Plain : ITestGreeter
    {
        public Task<Greeting> Hello(Greet request, CancellationToken ct = default) => throw new NotSupportedException();
        public Task Audit(Note note, CancellationToken ct = default) => throw new NotSupportedException();
        public IAsyncEnumerable<Tick> Count(CountTo request, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<Total> Sum(IAsyncEnumerable<Number> numbers, CancellationToken ct = default) => throw new NotSupportedException();
        public IAsyncEnumerable<Echoed> Chat(IAsyncEnumerable<Line> lines, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<Greeting> Broken(Greet request) => throw new NotSupportedException();
        public Task<Greeting> Slow(Greet request, CancellationToken ct) => throw new NotSupportedException();
    }

    private static async IAsyncEnumerable<T> Items<T>(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            await Task.Yield();
            yield return item;
        }
    }
}
