namespace Micro.Actors.Client;

/// <summary>
/// Ids of calls: 32 hex characters, like a GUID's "N" form, but one random half per process and a counter for the
/// other, so a call's id costs one string and no trip to the operating system's random source (a system call per
/// call, measured on the call path). Unique across processes as long as their random halves differ (2^64 of them).
/// </summary>
internal static class RequestIds
{
    private static readonly ulong Process = (ulong)Random.Shared.NextInt64() ^ ((ulong)Environment.ProcessId << 40);
    private static long _next = Random.Shared.NextInt64();

    public static string Next()
    {
        var count = (ulong)Interlocked.Increment(ref _next);
        return string.Create(32, (Process, count), static (chars, ids) =>
        {
            ids.Process.TryFormat(chars, out _, "x16");
            ids.count.TryFormat(chars[16..], out _, "x16");
        });
    }
}
