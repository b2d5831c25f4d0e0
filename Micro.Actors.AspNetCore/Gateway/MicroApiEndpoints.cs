using Micro.Actors.AspNetCore.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Micro.Actors.AspNetCore;

/// <summary>
/// The HTTP gateway into the cluster, go-micro's <c>micro api</c> as endpoints of any ASP.NET Core app
/// on a Micro.Actors node (<c>AddMicroClient()</c> or <c>AddMicroService(…)</c>):
/// <code>
/// builder.Services.AddMicroClient();
/// builder.Services.AddMicroApi();
/// var app = builder.Build();
/// app.UseWebSockets();   // for client and bidirectional streams
/// app.MapMicroApi();
/// </code>
/// </summary>
public static class MicroApiEndpoints
{
    /// <summary>The gateway's options, from <paramref name="configure"/> over configuration's <c>Micro:Api</c> section.</summary>
    public static IServiceCollection AddMicroApi(this IServiceCollection services, Action<MicroApiOptions>? configure = null)
    {
        services.AddOptions<MicroApiOptions>().BindConfiguration(MicroApiOptions.Section);
        if (configure is not null) services.Configure(configure);
        services.TryAddSingleton<MicroApi>();
        return services;
    }

    /// <summary>
    /// Maps, under <paramref name="prefix"/>: <c>POST /{service}/{endpoint}</c> (a call, a one-way message, or a
    /// server stream as Server-Sent Events / NDJSON), <c>GET /{service}/{endpoint}</c> with a WebSocket (client
    /// and bidirectional streams), <c>POST /events/{topic}</c> (publish) and <c>GET /openapi.json</c>.
    /// Returns the group, for <c>RequireAuthorization</c>, <c>RequireCors</c>, rate limits and the like.
    /// </summary>
    public static RouteGroupBuilder MapMicroApi(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        var api = endpoints.ServiceProvider.GetService<MicroApi>() ?? ActivatorUtilities.CreateInstance<MicroApi>(endpoints.ServiceProvider);
        var group = endpoints.MapGroup(prefix);
        group.MapGet("/openapi.json", new RequestDelegate(api.OpenApiAsync)).WithDisplayName("Micro API: OpenAPI document");
        group.MapPost("/events/{topic}", new RequestDelegate(api.PublishAsync)).WithDisplayName("Micro API: publish");
        group.MapPost("/{service}/{endpoint}", new RequestDelegate(api.CallAsync)).WithDisplayName("Micro API: call");
        group.MapGet("/{service}/{endpoint}", new RequestDelegate(api.StreamSocketAsync)).WithDisplayName("Micro API: stream over a WebSocket");
        return group;
    }
}
