using System.Diagnostics;
using System.Reflection;

namespace Micro.Actors.Benchmarks;

/// <summary>This program started again as a server process; it prints "READY" once it serves.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private ChildProcess(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start a server process");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { _ready.TrySetException(new InvalidOperationException("the server process ended: " + Describe())); return; }
            lock (_output) _output.Add(e.Data);
            if (e.Data.StartsWith("READY", StringComparison.Ordinal)) _ready.TrySetResult(e.Data);
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static async Task<ChildProcess> StartAsync(TimeSpan timeout, params string[] args)
    {
        var child = new ChildProcess(args);
        try { await child._ready.Task.WaitAsync(timeout); }
        catch (Exception e)
        {
            child.Dispose();
            throw new InvalidOperationException($"server '{string.Join(' ', args)}' did not get ready: {e.Message}\n{child.Describe()}");
        }
        return child;
    }

    /// <summary>Starts the process without waiting for it (the join scenario times it).</summary>
    public static ChildProcess Start(params string[] args) => new(args);

    public Task<string> Ready => _ready.Task;
    public int Pid => _process.Id;

    /// <summary>Resident memory of the process, in bytes.</summary>
    public long Rss()
    {
        _process.Refresh();
        return _process.WorkingSet64;
    }

    /// <summary>CPU time the process has used so far.</summary>
    public TimeSpan Cpu()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public string Describe()
    {
        lock (_output) return string.Join('\n', _output.TakeLast(30));
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(5_000);
        _process.Dispose();
    }
}
