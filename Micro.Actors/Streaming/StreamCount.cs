namespace Micro.Actors.Streaming;

/// <summary>The items one stream has carried so far, each way, as one side sees them (what its span reports at its end).</summary>
internal sealed class StreamCount
{
    private long _sent, _received;

    public long Sent => Interlocked.Read(ref _sent);
    public long Received => Interlocked.Read(ref _received);

    public void OneSent() => Interlocked.Increment(ref _sent);
    public void OneReceived() => Interlocked.Increment(ref _received);
}
