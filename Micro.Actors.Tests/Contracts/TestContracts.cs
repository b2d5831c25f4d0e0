using System.Runtime.CompilerServices;
using Micro.Actors.Contracts;
using Micro.Actors.Errors;
using Micro.Actors.Tests.Support;

namespace Micro.Actors.Tests.Contracts;

public sealed record Greet(string Name);
public sealed record Greeting(string Message, string? Tenant = null);
public sealed record Note(string Text);
public sealed record CountTo(int N);
public sealed record Tick(int I);
public sealed record Number(int Value);
public sealed record Total(int Sum, int Count);
public sealed record Line(string Text);
public sealed record Echoed(string Text);

/// <summary>Every shape, an error, a slow call and a renamed endpoint.</summary>
[MicroService("contracts", Group = "Greeter")]
public interface ITestGreeter
{
    Task<Greeting> Hello(Greet request, CancellationToken ct = default);
    Task Audit(Note note, CancellationToken ct = default);
    IAsyncEnumerable<Tick> Count(CountTo request, CancellationToken ct = default);
    Task<Total> Sum(IAsyncEnumerable<Number> numbers, CancellationToken ct = default);
    IAsyncEnumerable<Echoed> Chat(IAsyncEnumerable<Line> lines, CancellationToken ct = default);
    [MicroEndpoint("Fail")] Task<Greeting> Broken(Greet request);
    Task<Greeting> Slow(Greet request, CancellationToken ct);
}

/// <summary>A versioned contract: typed clients call only nodes of 2.0.0.</summary>
[MicroService("versioned", Version = "2.0.0")]
public interface IVersioned
{
    Task<Greeting> Which(Greet request);
}

/// <summary>What the implementations saw, for the tests to wait on.</summary>
public sealed class Seen
{
    public LockedList<string> Notes { get; } = new();
    public LockedList<string> Events { get; } = new();
    public int Made, Disposed;
}

public sealed class TestGreeter(Seen seen) : ITestGreeter, IDisposable
{
    public TestGreeter() : this(new Seen()) { }

    public Task<Greeting> Hello(Greet request, CancellationToken ct = default) =>
        Task.FromResult(new Greeting($"Hello, {request.Name}", global::Micro.Actors.Metadata.MetadataContext.Current.GetValueOrDefault("tenant")));

    public Task Audit(Note note, CancellationToken ct = default)
    {
        seen.Notes.Add(note.Text);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<Tick> Count(CountTo request, [EnumeratorCancellation] CancellationToken ct = default)
    {
        try
        {
            for (var i = 1; i <= request.N; i++)
            {
                ct.ThrowIfCancellationRequested();
                yield return new Tick(i);
                if (request.N > 100) await Task.Delay(5, ct);
            }
        }
        finally { seen.Events.Add(ct.IsCancellationRequested ? "count cancelled" : "count ended"); }
    }

    public async Task<Total> Sum(IAsyncEnumerable<Number> numbers, CancellationToken ct = default)
    {
        int sum = 0, count = 0;
        await foreach (var n in numbers.WithCancellation(ct)) { sum += n.Value; count++; }
        return new Total(sum, count);
    }

    public async IAsyncEnumerable<Echoed> Chat(IAsyncEnumerable<Line> lines, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var line in lines.WithCancellation(ct)) yield return new Echoed(line.Text.ToUpperInvariant());
    }

    public Task<Greeting> Broken(Greet request) =>
        request.Name == "conflict"
            ? throw MicroError.Conflict("contracts", "already greeted").ToException()
            : throw new InvalidOperationException("the greeter broke");

    public async Task<Greeting> Slow(Greet request, CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct); }
        catch (OperationCanceledException) { seen.Events.Add("slow cancelled"); throw; }
        return new Greeting("never");
    }

    public void Dispose() => Interlocked.Increment(ref seen.Disposed);
}
