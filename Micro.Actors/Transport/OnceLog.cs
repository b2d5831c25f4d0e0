using Akka.Event;

namespace Micro.Actors.Transport;

/// <summary>
/// Says a problem with a peer loudly the first time and quietly (debug) after: a peer that retries
/// every few seconds, or a client that connects in a loop, does not flood the log. Remembers a bounded
/// number of keys, so connections from many addresses cannot grow it.
/// </summary>
internal sealed class OnceLog(ILoggingAdapter log, LogLevel loud)
{
    private const int Remembered = 1024;
    private readonly HashSet<string> _said = new(StringComparer.Ordinal);

    public void Say(string key, string format, params object[] args)
    {
        bool first;
        lock (_said)
        {
            if (_said.Count >= Remembered) _said.Clear();
            first = _said.Add(key);
        }
        log.Log(first ? loud : LogLevel.DebugLevel, format, args);
    }
}
