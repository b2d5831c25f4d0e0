namespace Micro.Actors.Errors;

/// <summary>
/// go-micro's error shape. It crosses the wire as a record (exceptions lose their fields between
/// nodes) and is raised at the caller as a <see cref="MicroException"/>.
/// </summary>
/// <param name="Id">Who raised it: a service name, or "micro.client" / "micro.server".</param>
/// <param name="Code">An HTTP-style status code (400, 404, 408, 409, 500, 503).</param>
/// <param name="Detail">What happened and what to do about it.</param>
/// <param name="Status">The code's status text ("Not Found").</param>
public sealed record MicroError(string Id, int Code, string Detail, string Status)
{
    public static MicroError BadRequest(string id, string detail) => New(id, 400, detail);
    public static MicroError NotFound(string id, string detail) => New(id, 404, detail);
    public static MicroError Timeout(string id, string detail) => New(id, 408, detail);
    public static MicroError Conflict(string id, string detail) => New(id, 409, detail);
    public static MicroError InternalServerError(string id, string detail) => New(id, 500, detail);
    public static MicroError ServiceUnavailable(string id, string detail) => New(id, 503, detail);

    /// <summary>499, as proxies say it: the caller cancelled before the answer came (what telemetry records; the caller sees its cancellation).</summary>
    internal const int ClientClosedRequest = 499;

    public static MicroError New(string id, int code, string detail) => new(id, code, detail, StatusText(code));

    /// <summary>4xx: the caller's request was wrong; trying it elsewhere would not help.</summary>
    public bool IsClientError => Code is >= 400 and < 500;

    public MicroException ToException() => new(this);

    public override string ToString() => $"{Code} {Status} ({Id}): {Detail}";

    public static string StatusText(int code) => code switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        ClientClosedRequest => "Client Closed Request",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
}
