using Micro.Actors.Config;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Micro.Actors.Nats;

/// <summary>A topic's stream: made from micro.nats.stream when missing; one that exists must agree with the settings.</summary>
internal static class NatsStreams
{
    public static StreamConfig Wanted(NatsSettings s, string name, string subject) => new(name, [subject])
    {
        Retention = StreamConfigRetention.Limits,
        MaxAge = s.Stream.MaxAge,
        MaxMsgs = s.Stream.MaxMessages,
        MaxBytes = s.Stream.MaxBytes,
        NumReplicas = s.Stream.Replicas,
        DuplicateWindow = s.Stream.DuplicateWindow,
        Storage = s.Stream.Storage == "memory" ? StreamConfigStorage.Memory : StreamConfigStorage.File,
    };

    public static async Task EnsureAsync(NatsBroker.Started n, string topic, CancellationToken cancellationToken)
    {
        var (name, subject) = (n.Names.Stream(topic), n.Names.Subject(topic));
        var wanted = Wanted(n.Settings, name, subject);
        StreamConfig existing;
        try { existing = (await n.Js.GetStreamAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.Config; }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            try
            {
                await n.Js.CreateStreamAsync(wanted, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (NatsJSApiException raced) when (raced.Error.ErrCode == 10058) // made meanwhile by another node
            {
                existing = (await n.Js.GetStreamAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.Config;
            }
        }
        if (Mismatch(wanted, existing) is { } problem) throw new MicroConfigException(problem.Setting, $"the stream {name} on {n.Settings.Url} {problem.Text}: " +
            $"make them agree (change the setting, or the stream with `nats stream edit {name}`)");
    }

    /// <summary>The first setting the existing stream disagrees with, and how.</summary>
    public static (string Setting, string Text)? Mismatch(StreamConfig wanted, StreamConfig existing)
    {
        var subject = wanted.Subjects!.Single();
        if (existing.Subjects is not { } subjects || !subjects.Contains(subject))
            return ("micro.nats.subject-prefix", $"holds the subjects {string.Join(", ", existing.Subjects ?? [])}, not {subject}");
        if (existing.MaxAge != wanted.MaxAge) return ("micro.nats.stream.max-age", $"keeps events for {Age(existing.MaxAge)}, the setting says {Age(wanted.MaxAge)}");
        if (existing.MaxMsgs != wanted.MaxMsgs) return ("micro.nats.stream.max-messages", $"keeps at most {existing.MaxMsgs} events, the setting says {wanted.MaxMsgs}");
        if (existing.MaxBytes != wanted.MaxBytes) return ("micro.nats.stream.max-bytes", $"keeps at most {existing.MaxBytes} bytes, the setting says {wanted.MaxBytes}");
        if (existing.NumReplicas != wanted.NumReplicas) return ("micro.nats.stream.replicas", $"has {existing.NumReplicas} replica(s), the setting says {wanted.NumReplicas}");
        if (existing.DuplicateWindow != wanted.DuplicateWindow)
            return ("micro.nats.stream.duplicate-window", $"de-duplicates over {Age(existing.DuplicateWindow)}, the setting says {Age(wanted.DuplicateWindow)}");
        if (existing.Storage != wanted.Storage) return ("micro.nats.stream.storage", $"is stored in {existing.Storage}, the setting says {wanted.Storage}");
        return null;
    }

    private static string Age(TimeSpan t) => t == TimeSpan.Zero ? "0s (no limit)" : $"{NatsSettings.Invariant(t)}s";
}
