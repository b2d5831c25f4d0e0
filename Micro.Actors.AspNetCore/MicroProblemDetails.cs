using Micro.Actors.Errors;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Micro.Actors.AspNetCore;

/// <summary>
/// A <see cref="MicroException"/> from a call as an HTTP answer (RFC 7807 problem details): the caller's
/// mistakes keep their code (400, 404, 409, 413, 429 …), the downstream service's failures become the
/// gateway's (408 → 504, 503 → 503, any other 5xx → 502).
/// </summary>
public static class MicroProblemDetails
{
    /// <summary>The HTTP status for <paramref name="error"/>.</summary>
    public static int StatusCode(MicroError error) => error.Code switch
    {
        408 => StatusCodes.Status504GatewayTimeout,
        503 => StatusCodes.Status503ServiceUnavailable,
        >= 400 and < 500 => error.Code,
        _ => StatusCodes.Status502BadGateway,
    };

    /// <summary>
    /// The problem details of <paramref name="error"/>: its detail, and the service's own code and id as extensions;
    /// a handler's failure also its <c>errorId</c>, under which the service's node logged the exception.
    /// </summary>
    public static ProblemDetails From(MicroError error, string? instance = null)
    {
        var status = StatusCode(error);
        var details = new ProblemDetails
        {
            Status = status,
            Title = MicroError.StatusText(status),
            Detail = error.Detail,
            Instance = instance,
            Extensions = { ["code"] = error.Code, ["id"] = error.Id },
        };
        if (HandlerFailure.IdOf(error) is { } errorId) details.Extensions["errorId"] = errorId;
        return details;
    }

    /// <summary>The problem as a minimal-API result: <c>catch (MicroException e) { return e.ToProblem(); }</c>.</summary>
    public static IResult ToProblem(this MicroException exception, string? instance = null) => Results.Problem(From(exception.Error, instance));

    /// <summary>
    /// Answers every <see cref="MicroException"/> an endpoint lets through with its problem details
    /// (with <c>app.UseExceptionHandler()</c>); other exceptions are left to ASP.NET Core.
    /// </summary>
    public static IServiceCollection AddMicroProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddExceptionHandler<MicroExceptionHandler>();
        return services;
    }

    private sealed class MicroExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not MicroException micro) return false;
            var details = From(micro.Error, context.Request.Path);
            context.Response.StatusCode = details.Status!.Value;
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details, Exception = exception }).ConfigureAwait(false);
        }
    }
}
