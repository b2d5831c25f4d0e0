using Micro.Actors.Hosting;
using Micro.Actors.Service;
using MyService.Contracts;

// Calls myservice with its typed client: dotnet run -- --name Ann. It joins the cluster through
// Micro:SeedNodes (appsettings.json: 127.0.0.1:4053; --Micro:SeedNodes:0=host:port for another).
// Its appsettings.json sits beside the program, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace); // stdout carries only the replies
builder.Services.AddMicroClient().AddClient<IMyService>();
using var host = builder.Build();
await host.StartAsync();

// Joined and the registry filled: then the service's nodes are known.
using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(20));
await host.Services.GetRequiredService<MicroService>().WhenReadyAsync(ready.Token);

var service = host.Services.GetRequiredService<IMyService>();
var name = builder.Configuration["name"] ?? "world";
var reply = await service.Hello(new HelloRequest(name));
Console.WriteLine(reply.Message);
await foreach (var count in service.Count(new CountRequest(3))) Console.WriteLine($"count {count.N}");

await host.StopAsync();
