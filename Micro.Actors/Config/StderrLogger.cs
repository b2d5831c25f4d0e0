using Akka.Event;

namespace Micro.Actors.Config;

/// <summary>
/// Akka's console logger, writing to stderr: stdout stays for a program's own output
/// (a reply per line, a table), so it can be piped.
/// </summary>
internal sealed class StderrLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is LogEvent e)
            Console.Error.WriteLine($"[{e.LogLevel().ToString().Replace("Level", "").ToUpperInvariant()}][{e.Timestamp:HH:mm:ss.fff}][{e.LogSource}] {e.Message}{(e.Cause is null ? "" : " " + e.Cause)}");
        else
            Console.Error.WriteLine(message);
    }
}
