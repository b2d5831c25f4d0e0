using System.Text.Json;
using Micro.Actors.Hosting.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Micro.Actors.AspNetCore;

/// <summary>The health checks of <see cref="MicroHealthChecks"/> as endpoints: <c>{prefix}/live</c> and <c>{prefix}/ready</c>, 200 or 503, with a JSON body.</summary>
public static class MicroHealthEndpoints
{
    public static IEndpointRouteBuilder MapMicroHealthChecks(this IEndpointRouteBuilder endpoints, string prefix = "/health")
    {
        endpoints.MapHealthChecks($"{prefix}/live", Options(MicroHealthChecks.Live));
        endpoints.MapHealthChecks($"{prefix}/ready", Options(MicroHealthChecks.Ready));
        return endpoints;
    }

    private static HealthCheckOptions Options(string tag) => new()
    {
        Predicate = check => check.Tags.Contains(tag),
        ResponseWriter = WriteJson,
    };

    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
    }
}
