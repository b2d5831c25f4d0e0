using Micro.Actors.AspNetCore;
using Micro.Actors.Client;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Health;
using Micro.Actors.Registry;

// An ASP.NET Core app on a client-only node: it joins the cluster through Micro:SeedNodes
// (appsettings.json, Micro__SeedNodes__0=host:port, or --Micro:SeedNodes:0=host:port) and calls its services.
var builder = WebApplication.CreateBuilder(args);

// With a service's contracts project referenced (dotnet add reference ../Orders/Orders.Contracts),
// its typed client is injectable: builder.Services.AddMicroClient().AddClient<IOrders>();
builder.Services.AddMicroClient();
builder.Services.AddHealthChecks().AddMicroHealthChecks();
builder.Services.AddMicroProblemDetails();   // a MicroException answers as RFC 7807 problem details (404, 408, 503 …)

var app = builder.Build();
app.UseExceptionHandler();

// GET /services -> [{"name":"orders","versions":["1.0.0"],"nodes":2}]
app.MapGet("/services", async (IRegistry registry, CancellationToken cancellationToken) =>
    (await registry.ListServicesAsync(cancellationToken)).Select(s => new { s.Name, s.Versions, s.Nodes }));

// POST /call/orders/Orders.Hello with {"name":"Ann"}: the string API, as the micro tool and gateways call (JSON in, JSON out).
// The JSON bytes pass through as they are: the service's JSON codec reads them into its request type.
app.MapPost("/call/{service}/{endpoint}", async (string service, string endpoint, HttpRequest request, IClient client,
    CancellationToken cancellationToken) =>
{
    using var body = new MemoryStream();
    await request.Body.CopyToAsync(body, cancellationToken);
    var reply = await client.CallAsync<byte[]>(service, endpoint, body.ToArray(),
        new CallOptions { ContentType = "application/json" }, cancellationToken);
    return Results.Bytes(reply, "application/json");
});

app.MapMicroHealthChecks();   // /health/live and /health/ready
app.Run();
