using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka;
using Akka.Actor;
using Akka.Streams.Dsl;
using Micro.Actors.Broker;
using Micro.Actors.Hosting;
using Micro.Actors.Server;
using Micro.Actors.Service;
using Micro.Actors.Streaming;
using Micro.Actors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Micro.Actors.Tests.Hosting;

/// <summary>
/// Handlers of every kind and subscribers, made by the host's DI: constructor injection, singletons shared,
/// and a scope per request and per event whose scoped services are new each time and disposed after it.
/// A hosted service node is called from a plain node of the same cluster.
/// </summary>
public sealed class DependencyInjectionTests : IAsyncLifetime
{
    public sealed record Ask(string What);
    public sealed record Answer(int Unit, int Singleton, int ActorUnit);
    public sealed record Note(string Text);
    public sealed record CountTo(int N);
    public sealed record Counted(int Unit, int N);
    public sealed record Ping(int N);

    /// <summary>Which scoped units were made and which disposed (a DbContext stands for them).</summary>
    public sealed class Units
    {
        private int _next;
        public ConcurrentDictionary<int, bool> Disposed { get; } = new();
        public ConcurrentQueue<(string Where, int Unit)> Used { get; } = new();
        public int Next() { var id = Interlocked.Increment(ref _next); Disposed[id] = false; return id; }
    }

    public sealed class Unit(Units units) : IAsyncDisposable
    {
        public int Id { get; } = units.Next();
        public ValueTask DisposeAsync() { units.Disposed[Id] = true; return ValueTask.CompletedTask; }
    }

    public sealed class Counter
    {
        private static int _instances;
        public int Id { get; } = Interlocked.Increment(ref _instances);
    }

    /// <summary>An actor handler: the counter (a singleton) and a unit of its own (scoped to the actor) injected; a unit per request from Request.Services.</summary>
    public sealed class StockHandler : MicroHandler
    {
        public StockHandler(Counter counter, Unit actorUnit, Units units)
        {
            Receive<Ask>(_ =>
            {
                var unit = Request.Services.GetRequiredService<Unit>();
                Sender.Tell(new Answer(unit.Id, counter.Id, actorUnit.Id));
            });
            // Async: the request's scope outlives the await, and goes once the request is answered.
            ReceiveAsync<Ping>(async p =>
            {
                var sender = Sender;
                var unit = Request.Services.GetRequiredService<Unit>();
                await Task.Delay(20);
                Assert.Same(unit, Request.Services.GetRequiredService<Unit>());
                sender.Tell(new Answer(unit.Id, counter.Id, actorUnit.Id));
            });
            // One-way and async: the scope goes when the task ends, not when the receive returns.
            ReceiveAsync<Note>(async n =>
            {
                var unit = Request.Services.GetRequiredService<Unit>();
                await Task.Delay(50);
                units.Used.Enqueue(($"note:{n.Text}:{(units.Disposed[unit.Id] ? "disposed" : "alive")}", unit.Id));
            });
        }
    }

    /// <summary>A stream per actor, made by DI.</summary>
    public sealed class CountingActor : ReceiveActor
    {
        public CountingActor(Counter counter) =>
            Receive<StreamCall<CountTo>>(c => Sender.Tell(Source.From(Enumerable.Range(1, c.Request!.N)).Select(n => new Counted(counter.Id, n))));
    }

    /// <summary>A subscriber actor: injected, with a scope per event that goes when its async handling ends.</summary>
    public sealed class NoteSubscriber : MicroSubscriber
    {
        public NoteSubscriber(Units units) =>
            ReceiveAsync<Note>(async n =>
            {
                var unit = Event.Services.GetRequiredService<Unit>();
                await Task.Delay(20);
                units.Used.Enqueue(($"actor-event:{n.Text}:{(units.Disposed[unit.Id] ? "disposed" : "alive")}", unit.Id));
            });
    }

    private readonly TestCluster _cluster = new();
    private IHost _host = null!;
    private MicroService _caller = null!;
    private Units _units = null!;

    public async Task InitializeAsync()
    {
        _caller = await _cluster.StartClientAsync();
        var builder = TestHost.Builder();
        builder.Services.AddSingleton<Units>().AddSingleton<Counter>().AddScoped<Unit>();
        builder.Services.AddMicroService("inventory", s => s
            .Handle<StockHandler>("Stock", e => e.Map<Ask, Answer>("Get").Map<Ping, Answer>("Ping").Map<Note>("Note"), poolSize: 2)
            .Handle<Ask, Answer>("Fn.Get", (_, ctx) =>
            {
                var unit = ctx.Services.GetRequiredService<Unit>();
                return Task.FromResult(new Answer(unit.Id, ctx.Services.GetRequiredService<Counter>().Id, 0));
            })
            .HandleServerStream<CountTo, Counted>("Fn.Count", (r, ctx) => Count(r, ctx))
            .HandleStream<CountingActor, CountTo, Counted>("Actor.Count", StreamKind.Server)
            .Subscribe<Note>("notes", async (n, e) =>
            {
                var unit = e.Services.GetRequiredService<Unit>();
                await Task.Delay(20);
                Assert.Same(unit, e.Services.GetRequiredService<Unit>());
                e.Services.GetRequiredService<Units>().Used.Enqueue(($"fn-event:{n.Text}", unit.Id));
            })
            .Subscribe<NoteSubscriber, Note>("notes"), TestHost.In(_cluster));
        _host = builder.Build();
        await _host.StartAsync();
        _units = _host.Services.GetRequiredService<Units>();
        await TestCluster.WaitForNodesAsync(_caller, "inventory", 1);
    }

    private static async IAsyncEnumerable<Counted> Count(CountTo request, RequestContext context, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var unit = context.Services.GetRequiredService<Unit>();
        for (var n = 1; n <= request.N; n++)
        {
            await Task.Yield();
            Assert.Same(unit, context.Services.GetRequiredService<Unit>()); // one scope for the whole stream
            yield return new Counted(unit.Id, n);
        }
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task An_actor_handler_gets_its_constructor_dependencies_and_a_new_scope_per_request_disposed_after_it()
    {
        var answers = new List<Answer>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await _caller.Client.CallAsync<Answer>("inventory", "Stock.Get", new Ask("x")));
            answers.Add(await _caller.Client.CallAsync<Answer>("inventory", "Stock.Ping", new Ping(i)));
        }

        Assert.Equal(answers.Count, answers.Select(a => a.Unit).Distinct().Count());          // a scope per request
        Assert.All(answers, a => Assert.True(_units.Disposed[a.Unit], $"unit {a.Unit} still alive after its request")); // gone once answered
        Assert.Single(answers.Select(a => a.Singleton).Distinct());                            // the singleton is one
        Assert.InRange(answers.Select(a => a.ActorUnit).Distinct().Count(), 1, 2);             // a scope per actor (pool of 2)
        Assert.All(answers.Select(a => a.ActorUnit), id => Assert.False(_units.Disposed[id])); // alive while its actor lives
    }

    [Fact]
    public async Task A_one_way_async_handler_keeps_its_scope_until_its_task_ends()
    {
        await _caller.Client.TellAsync("inventory", "Stock.Note", new Note("one-way"));
        await Eventually.TrueAsync(() => _units.Used.Any(u => u.Where.StartsWith("note:one-way")), TimeSpan.FromSeconds(10), "the one-way note");
        var (where, unit) = _units.Used.First(u => u.Where.StartsWith("note:one-way"));
        Assert.Equal("note:one-way:alive", where);
        await Eventually.TrueAsync(() => _units.Disposed[unit], TimeSpan.FromSeconds(5), "the one-way request's scope to go");
    }

    [Fact]
    public async Task A_function_handler_gets_a_scope_per_request()
    {
        var a = await _caller.Client.CallAsync<Answer>("inventory", "Fn.Get", new Ask("a"));
        var b = await _caller.Client.CallAsync<Answer>("inventory", "Fn.Get", new Ask("b"));
        Assert.NotEqual(a.Unit, b.Unit);
        Assert.True(_units.Disposed[a.Unit] && _units.Disposed[b.Unit]);
        Assert.Equal(a.Singleton, b.Singleton);
    }

    [Fact]
    public async Task A_stream_function_has_one_scope_for_the_stream_disposed_when_it_ends_and_a_stream_actor_is_injected()
    {
        var items = new List<Counted>();
        await foreach (var item in _caller.Client.StreamAsync<Counted>("inventory", "Fn.Count", new CountTo(5))) items.Add(item);
        Assert.Equal([1, 2, 3, 4, 5], items.Select(i => i.N));
        var unit = Assert.Single(items.Select(i => i.Unit).Distinct());
        await Eventually.TrueAsync(() => _units.Disposed[unit], TimeSpan.FromSeconds(5), "the stream's scope to go");

        var second = new List<Counted>();
        await foreach (var item in _caller.Client.StreamAsync<Counted>("inventory", "Fn.Count", new CountTo(2))) second.Add(item);
        Assert.NotEqual(unit, second[0].Unit);

        var byActor = new List<Counted>();
        await foreach (var item in _caller.Client.StreamAsync<Counted>("inventory", "Actor.Count", new CountTo(3))) byActor.Add(item);
        Assert.Equal([1, 2, 3], byActor.Select(i => i.N));
        Assert.Equal(_host.Services.GetRequiredService<Counter>().Id, byActor[0].Unit);
    }

    [Fact]
    public async Task Subscribers_get_a_scope_per_event_disposed_after_it_functions_and_actors_alike()
    {
        await _caller.Broker.WaitForSubscribersAsync("notes", TimeSpan.FromSeconds(10));
        for (var i = 0; i < 3; i++)
            await _caller.Client.PublishAsync("notes", new Note($"e{i}"), new PublishOptions { WaitForSubscribers = TimeSpan.FromSeconds(5) });

        await Eventually.TrueAsync(() => _units.Used.Count(u => u.Where.StartsWith("fn-event:")) == 3 && _units.Used.Count(u => u.Where.StartsWith("actor-event:")) == 3,
            TimeSpan.FromSeconds(10), "3 events at each subscriber");
        var fn = _units.Used.Where(u => u.Where.StartsWith("fn-event:")).Select(u => u.Unit).ToList();
        var actor = _units.Used.Where(u => u.Where.StartsWith("actor-event:")).ToList();
        Assert.Equal(3, fn.Distinct().Count());
        Assert.Equal(3, actor.Select(u => u.Unit).Distinct().Count());
        Assert.All(actor, u => Assert.EndsWith(":alive", u.Where)); // alive across the await of its handler
        await Eventually.TrueAsync(() => fn.Concat(actor.Select(u => u.Unit)).All(id => _units.Disposed[id]), TimeSpan.FromSeconds(5), "every event's scope to go");
    }

    [Fact]
    public void A_handler_or_subscriber_that_needs_an_unregistered_service_fails_at_registration_naming_it()
    {
        var builder = TestHost.Builder();
        builder.Services.AddSingleton<Counter>(); // no Units, no Unit
        builder.Services.AddMicroService("inventory", s => s.Subscribe<NoteSubscriber, Note>("notes"), o => o.Environment = new Dictionary<string, string?>());
        using var host = builder.Build();
        var e = Assert.Throws<ArgumentException>(() => host.Services.GetRequiredService<MicroService>());
        Assert.Contains("NoteSubscriber needs Units, which the application's services do not have", e.Message);
    }

    [Fact]
    public async Task A_handler_without_a_parameterless_constructor_needs_a_service_provider_and_says_so()
    {
        var service = MicroService.Create("no-di");
        var e = Assert.Throws<ArgumentException>(() => service.Handle<StockHandler>("Stock", m => m.Map<Ask, Answer>("Get")));
        Assert.Contains("StockHandler has no parameterless constructor", e.Message);
        Assert.Contains("AddMicroService", e.Message);
        await service.DisposeAsync();
    }
}
