namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// The HTTP gateway's settings (<c>services.AddMicroApi(o => …)</c>, or configuration's <c>Micro:Api</c> section).
/// The defaults are the safe ones: no extra headers pass, bodies are bounded by the cluster's frame limit,
/// and a failure of the gateway itself answers with an error id, not its exception.
/// </summary>
public sealed class MicroApiOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string Section = "Micro:Api";

    /// <summary>The deadline of a call without a <c>Micro-Timeout</c> header; null: the node's (<c>micro.client.request-timeout</c>).</summary>
    public TimeSpan? DefaultTimeout { get; set; }

    /// <summary>The longest deadline a <c>Micro-Timeout</c> header may ask for (a longer one is a 400).</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>HTTP headers passed to the service as metadata besides every <c>Micro-*</c> header (e.g. <c>X-Request-Id</c>).</summary>
    public IList<string> MetadataHeaders { get; set; } = [];

    /// <summary>The largest request body or WebSocket message, in bytes (413 beyond); null: the node's payload limit (the frame size).</summary>
    public int? MaxBodyBytes { get; set; }

    /// <summary>
    /// When not empty, every request must carry one of these keys, as <c>Authorization: Bearer KEY</c> or
    /// <c>X-Api-Key: KEY</c> (401 without one, 403 with a wrong one).
    /// </summary>
    public IList<string> ApiKeys { get; set; } = [];

    /// <summary>
    /// Puts the exception's type and message in the 500 of a failure of the gateway itself. Off by default:
    /// the answer says only an error id, and the exception is logged under it.
    /// </summary>
    public bool ShowExceptionDetails { get; set; }

    /// <summary>How long a publish waits for the topic's subscribers to be reachable once the registry lists them.</summary>
    public TimeSpan PublishWait { get; set; } = TimeSpan.FromSeconds(2);
}
