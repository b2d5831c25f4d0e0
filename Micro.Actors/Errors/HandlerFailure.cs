using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Akka.Event;

namespace Micro.Actors.Errors;

/// <summary>
/// What the caller of a handler that threw is told, and what the node's log keeps. An exception's text
/// can hold anything (a query, a path, a customer's data), so by default it stays on the server: the
/// caller gets a 500 with an error id, and the node logs the whole exception once, at Error, under that
/// id (property <c>ErrorId</c>). A <see cref="MicroException"/> is thrown on purpose: it keeps its code
/// and detail. With <c>micro.server.error-details</c> on (auto: in Development) the caller also gets the
/// exception's type and message, as before.
/// </summary>
internal sealed partial class HandlerFailure(ILoggingAdapter log, bool details)
{
    /// <summary>
    /// Where an exception keeps the request and the id it was logged under: one failure seen twice (by the receive,
    /// then by the restart) is logged once; the same exception object thrown again by another request is logged again.
    /// </summary>
    private const string DataKey = "micro.error-id";

    /// <summary>
    /// The error <paramref name="exception"/> answers with. Anything but a <see cref="MicroException"/> is
    /// logged (once, however often it is reported) and becomes a 500 that names its error id.
    /// </summary>
    /// <param name="source">Who raises the error (<see cref="MicroError.Id"/>): the service.</param>
    /// <param name="stream">Whether it ended a stream (the log says "stream" rather than "request").</param>
    public MicroError Report(Exception exception, string source, string endpoint, string requestId, bool stream = false)
    {
        var e = Unwrap(exception);
        if (e is MicroException m) return m.Error;
        if (IdOf(e, requestId) is not { } id)
        {
            id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            Remember(e, requestId, id);
            if (stream) log.Error(e, "{Endpoint} stream {RequestId} failed (error id {ErrorId}): {Error}", endpoint, requestId, id, e.Message);
            else log.Error(e, "{Endpoint} request {RequestId} failed (error id {ErrorId}): {Error}", endpoint, requestId, id, e.Message);
        }
        // The id is all the caller needs to find the rest; the text only where it is safe to show (development).
        return MicroError.InternalServerError(source, details
            ? $"{endpoint} failed on the server (error id {id}): {e.GetType().Name}: {e.Message}"
            : $"{endpoint} failed on the server (error id {id}): the details are in that node's log under this id");
    }

    /// <summary>
    /// Whether a handler's failure needs no other log line (supervision's): it was thrown on purpose (a
    /// <see cref="MicroException"/>, as a function handler's is not logged either), or is logged under an error id.
    /// </summary>
    public static bool Reported(Exception exception) => Unwrap(exception) is var e && (e is MicroException || e.Data?.Contains(DataKey) == true);

    /// <summary>The error id a server failure's detail names; null for any other error.</summary>
    public static string? IdOf(MicroError error) => error.Code == 500 && IdPattern().Match(error.Detail) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>
    /// Whether a node shows handlers' exception text to callers: <c>on</c>, <c>off</c>, or <c>auto</c> — on when
    /// the environment is Development (the host's, else DOTNET_ENVIRONMENT or ASPNETCORE_ENVIRONMENT).
    /// </summary>
    public static bool DetailsOn(string value, string? hostEnvironment, Func<string, string?> env) => value.ToLowerInvariant() switch
    {
        "on" => true,
        "off" => false,
        "auto" => hostEnvironment is not null ? IsDevelopment(hostEnvironment)
            : IsDevelopment(env("DOTNET_ENVIRONMENT")) || IsDevelopment(env("ASPNETCORE_ENVIRONMENT")),
        _ => throw new Config.MicroConfigException(Setting, $"'{value}' is not a choice: use auto (on in Development), on or off"),
    };

    public const string Setting = "micro.server.error-details";

    private static bool IsDevelopment(string? environment) => string.Equals(environment?.Trim(), "Development", StringComparison.OrdinalIgnoreCase);

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0]) : e;

    /// <summary>The id <paramref name="e"/> was logged under for <paramref name="requestId"/>; null if it was not.</summary>
    private static string? IdOf(Exception e, string requestId) =>
        e.Data?[DataKey] is string mark && mark.StartsWith(requestId + " ", StringComparison.Ordinal) ? mark[(requestId.Length + 1)..] : null;

    private static void Remember(Exception e, string requestId, string id)
    {
        try { e.Data[DataKey] = $"{requestId} {id}"; }
        catch (Exception) { } // an exception whose Data is read-only: at worst logged twice
    }

    [GeneratedRegex(@"\(error id ([0-9a-f]{12})\)")]
    private static partial Regex IdPattern();
}
