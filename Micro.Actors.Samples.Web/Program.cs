using Micro.Actors.AspNetCore;
using Micro.Actors.Client;
using Micro.Actors.Hosting;
using Micro.Actors.Hosting.Health;
using Micro.Actors.Samples;
using Micro.Actors.Samples.Greeter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

// An ASP.NET Core app that calls the greeter: a client-only node on the host, joined through
// Micro:SeedNodes (appsettings.json, Micro__SeedNodes__0=host:port, or --Micro:SeedNodes:0=host:port).
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMicroClient().AddClient<IGreeter>();   // the greeter's typed client, injectable
builder.Services.AddHealthChecks().AddMicroHealthChecks();
builder.Services.AddMicroProblemDetails();   // a MicroException answers as RFC 7807 problem details

// OpenTelemetry, as the other samples: Telemetry:Exporter = none (the default) | console | otlp (OTEL_EXPORTER_OTLP_ENDPOINT);
// the node's spans and metrics join by themselves, beside ASP.NET Core's; metrics are also served for Prometheus at /metrics.
builder.AddSampleTelemetry("micro-web")
    .WithTracing(t => t.AddAspNetCoreInstrumentation())
    .WithMetrics(m => m.AddAspNetCoreInstrumentation().AddPrometheusExporter());

var app = builder.Build();
app.UseExceptionHandler();

// GET /hello/Ann -> {"message":"Hello Ann","node":"127.0.0.1:4053"}
app.MapGet("/hello/{name}", (string name, IGreeter greeter, CancellationToken cancellationToken) =>
    greeter.Hello(new HelloRequest(name), cancellationToken));

// GET /wait/300: the greeter takes its time (300 ms), then greets; past the call's 5 s deadline it is a 504.
app.MapGet("/wait/{milliseconds:int}", async (int milliseconds, IGreeter greeter, CancellationToken cancellationToken) =>
{
    var waited = await greeter.Wait(new WaitRequest(milliseconds), cancellationToken);
    var hello = await greeter.Hello(new HelloRequest("you who waited"), cancellationToken);
    return new { waited = waited.Message, hello.Message, hello.Node };
});

app.MapMicroHealthChecks();   // /health/live and /health/ready
app.MapPrometheusScrapingEndpoint();   // /metrics
app.Run();
