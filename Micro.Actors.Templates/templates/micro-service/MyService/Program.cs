using Micro.Actors.Hosting;
using MyService;
using MyService.Contracts;

// The myservice service on the .NET Generic Host. Settings come from configuration's Micro section
// (appsettings.json, Micro__Port=4100, --Micro:Port=4100): with none, it is a single local node on 127.0.0.1:4053.
// Its appsettings.json sits beside the program, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddMicroService("myservice").Implement<IMyService, MyServiceImplementation>();
await builder.Build().RunAsync();
