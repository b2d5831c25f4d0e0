using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Micro.Actors.Tests.Support;

/// <summary>A real sample process (dotnet Micro.Actors.Samples.dll …), its output captured line by line.</summary>
public sealed class ProcessRunner : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private ProcessRunner(Process process) => _process = process;

    /// <summary>The repository's root (the tests run from Micro.Actors.Tests/bin/&lt;Configuration&gt;/net10.0).</summary>
    public static string RepositoryRoot => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Parent!.Parent!.Parent!.FullName;

    public static string SamplesDll => Built("Micro.Actors.Samples", "Micro.Actors.Samples.dll");

    /// <summary>
    /// A program in its own project's build output (Micro.Actors.Tests/bin/&lt;Configuration&gt;/net10.0 ->
    /// &lt;project&gt;/bin/&lt;Configuration&gt;/net10.0): run with its own dependencies, not the tests'.
    /// </summary>
    public static string Built(string project, string dll)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (framework, configuration) = (dir.Name, dir.Parent!.Name);
        var path = Path.Combine(RepositoryRoot, project, "bin", configuration, framework, dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{dll} is not built at {path}: build the solution first", path);
    }

    public static ProcessRunner StartSample(params string[] args) => Start("dotnet", [SamplesDll, .. args]);

    /// <summary>A sample with settings in its environment (Micro__Port, Logging__LogLevel__Akka, …).</summary>
    public static ProcessRunner StartSample(IReadOnlyDictionary<string, string> environment, params string[] args) => Start("dotnet", [SamplesDll, .. args], environment);

    public static ProcessRunner Start(string file, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        // A program of this repository runs in its own output folder, as when deployed: its content root
        // (appsettings.json) is its own, not the tests'.
        var program = args.FirstOrDefault(a => a.EndsWith(".dll", StringComparison.Ordinal) && File.Exists(a));
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = program is null ? Environment.CurrentDirectory : Path.GetDirectoryName(program)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The developer's own MICRO_* settings must not leak into a test.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MICRO_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var process = new Process { StartInfo = info };
        var runner = new ProcessRunner(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) runner._stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) runner._stderr.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return runner;
    }

    public void WriteStdin(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Close();
    }

    public int Id => _process.Id;
    public IReadOnlyList<string> Stdout => _stdout.ToArray();
    public IReadOnlyList<string> Stderr => _stderr.ToArray();
    public bool HasExited => _process.HasExited;

    /// <summary>Whether the operating system still knows the process (it is gone once it exited and was reaped).</summary>
    public bool IsGone()
    {
        try { using var p = Process.GetProcessById(_process.Id); return p.HasExited; }
        catch (ArgumentException) { return true; }
    }
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until a stderr line (the logs) matches <paramref name="pattern"/>.</summary>
    public Task WaitForLogAsync(string pattern, TimeSpan timeout) => WaitForLogAsync(pattern, 1, timeout);

    /// <summary>Waits until <paramref name="times"/> stderr lines match <paramref name="pattern"/> (e.g. a node seen Up again after a restart).</summary>
    public Task WaitForLogAsync(string pattern, int times, TimeSpan timeout) =>
        Eventually.TrueAsync(() =>
        {
            if (_stderr.Count(l => Regex.IsMatch(l, pattern)) >= times) return true;
            if (_process.HasExited) throw new InvalidOperationException($"process exited ({_process.ExitCode}) before logging /{pattern}/:\n{Describe()}");
            return false;
        }, timeout, $"/{pattern}/ in the logs of pid {_process.Id}");

    /// <summary>Waits until a stdout line (what the program says to people and scripts) matches <paramref name="pattern"/>.</summary>
    public Task WaitForOutputAsync(string pattern, TimeSpan timeout) =>
        Eventually.TrueAsync(() =>
        {
            if (_stdout.Any(l => Regex.IsMatch(l, pattern))) return true;
            if (_process.HasExited) throw new InvalidOperationException($"process exited ({_process.ExitCode}) before printing /{pattern}/:\n{Describe()}");
            return false;
        }, timeout, $"/{pattern}/ on the stdout of pid {_process.Id}");

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"pid {_process.Id} still running after {timeout}:\n{Describe()}"); }
        _process.WaitForExit(); // flushes the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGTERM: what an orchestrator sends for a graceful stop.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();

    /// <summary>SIGKILL: a crash.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends a signal (STOP, CONT, …) to the process itself.</summary>
    public void Signal(string name) => Process.Start("kill", [$"-{name}", _process.Id.ToString()])!.WaitForExit();

    /// <summary>The process's state letter from /proc (R, S, T when stopped, Z): what a signal did.</summary>
    public string State => File.ReadAllText($"/proc/{_process.Id}/stat").Split(')')[^1].Trim()[..1];

    public string Describe() =>
        $"--- stdout ---\n{string.Join('\n', _stdout)}\n--- stderr (last 40) ---\n{string.Join('\n', _stderr.TakeLast(40))}";

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
