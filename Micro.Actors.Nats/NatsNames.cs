using System.Text;
using Micro.Actors.Errors;

namespace Micro.Actors.Nats;

/// <summary>Where a topic lives in JetStream: its subject, its stream and its queue groups' consumers.</summary>
internal sealed class NatsNames(string prefix)
{
    /// <summary>The topic a topic's failed events go to.</summary>
    public static string DeadLetterTopic(string topic) => topic + DeadLetterSuffix;

    public const string DeadLetterSuffix = ".dead-letter";

    public string Subject(string topic) => $"{prefix}.{Check(topic)}";

    public string Stream(string topic) => $"{prefix.ToUpperInvariant()}_{Safe(Check(topic))}";

    /// <summary>A queue group's durable consumer (NATS names take no '.', '*', '>' or spaces).</summary>
    public static string Consumer(string queue) => Safe(queue);

    /// <summary>A topic is one or more subject tokens: no wildcards, spaces or empty tokens.</summary>
    public static string Check(string topic)
    {
        if (string.IsNullOrWhiteSpace(topic) || topic.Contains('/') || topic.Any(c => c is '*' or '>' || char.IsWhiteSpace(c) || char.IsControl(c))
            || topic.Split('.').Any(t => t.Length == 0))
            throw MicroError.BadRequest("micro.broker", $"'{topic}' is not a topic name for NATS: use words like \"orders\" or \"orders.eu\" (no spaces, '/', '*', '>' or empty parts)").ToException();
        return topic;
    }

    private static string Safe(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name) text.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        return text.ToString();
    }
}
