using System.IO.Compression;
using System.Text.RegularExpressions;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Packaging;

/// <summary>
/// What `dotnet pack` of the solution ships: five packages of one version with their licence, README and XML
/// docs — the library with its source generator inside, the CLI a dotnet tool that installs from a folder feed
/// with nothing else reachable, and the templates, whose micro-service solution builds, tests and runs on the
/// packages alone (no reference into this repository).
/// </summary>
[Collection(ProcessesLane.Name)]
public sealed class PackageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("micro-packages-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The one version of every package, from Directory.Build.props.</summary>
    private static string Version => Regex.Match(File.ReadAllText(Path.Combine(ProcessRunner.RepositoryRoot, "Directory.Build.props")),
        "<Version>([^<]+)</Version>").Groups[1].Value;

    private static async Task<ProcessRunner> RunAsync(string file, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = ProcessRunner.Start(file, args, environment);
        await run.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return run;
    }

    private async Task<ProcessRunner> MustRunAsync(string file, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = await RunAsync(file, args, environment);
        output.WriteLine($"{Path.GetFileName(file)} {string.Join(' ', args.Take(3))}: exit {run.ExitCode}");
        Assert.True(run.ExitCode == 0, run.Describe());
        return run;
    }

    [Fact]
    public async Task The_solution_packs_five_packages_micro_installs_as_a_tool_and_the_templates_service_builds_tests_and_runs_on_the_packages_alone()
    {
        // The suite runs on the solution's build: pack it as it is (the tests' own configuration).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var feed = Path.Combine(_dir, "feed");
        var pack = await RunAsync("dotnet", ["pack", Path.Combine(ProcessRunner.RepositoryRoot, "Micro.Actors.sln"), "--no-build", "--no-restore", "-c", configuration, "-o", feed]);
        Assert.True(pack.ExitCode == 0, pack.Describe());

        var version = Version;
        Assert.Matches(@"^\d+\.\d+\.\d+", version);
        var packages = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "Micro.Actors", "Micro.Actors.AspNetCore", "Micro.Actors.Cli", "Micro.Actors.Hosting", "Micro.Actors.Nats", "Micro.Actors.Templates" }
            .Select(p => $"{p}.{version}.nupkg"), packages);
        foreach (var package in packages)
        {
            using var zip = ZipFile.OpenRead(Path.Combine(feed, package!));
            var id = package![..^($".{version}.nupkg".Length)];
            using var reader = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
            var nuspec = await reader.ReadToEndAsync();
            Assert.Contains($"<version>{version}</version>", nuspec);
            Assert.Contains("<license type=\"expression\">Apache-2.0</license>", nuspec);
            Assert.Contains("<readme>README.md</readme>", nuspec);
            Assert.Matches("<description>.{20,}</description>", nuspec);
            Assert.NotNull(zip.GetEntry("README.md"));
            if (id == "Micro.Actors.Templates")
            {
                Assert.Contains("<packageType name=\"Template\" />", nuspec);
                Assert.NotNull(zip.GetEntry("content/templates/micro-service/.template.config/template.json"));
                Assert.NotNull(zip.GetEntry("content/templates/micro-web/.template.config/template.json"));
            }
            else if (id == "Micro.Actors.Cli")
            {
                Assert.Contains("<packageType name=\"DotnetTool\" />", nuspec);
                Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/any/micro.dll", StringComparison.Ordinal));
            }
            else
            {
                Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
                Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml")); // XML docs for the IDE
                if (id == "Micro.Actors") Assert.NotNull(zip.GetEntry("analyzers/dotnet/cs/Micro.Actors.Generators.dll")); // the contracts' generator
            }
        }

        // Offline: the feed is the only source, and a package cache of its own (nothing from an earlier run).
        var config = Path.Combine(_dir, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        var tools = Path.Combine(_dir, "tools");
        var install = await RunAsync("dotnet", ["tool", "install", "Micro.Actors.Cli", "--version", version, "--tool-path", tools, "--configfile", config],
            new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_dir, "packages") });
        Assert.True(install.ExitCode == 0, install.Describe());

        var port = TestCluster.FreePort();
        using var greeter = ProcessRunner.StartSample("greeter", "--port", $"{port}");
        await greeter.WaitForLogAsync("is Up in cluster", TimeSpan.FromSeconds(30));
        var services = await RunAsync(Path.Combine(tools, "micro"), ["services", "--seed", $"127.0.0.1:{port}"]);
        output.WriteLine(string.Join('\n', services.Stdout));
        Assert.True(services.ExitCode == 0, services.Describe());
        Assert.Matches(@"greeter\s+1\.0\.0\s+1", string.Join('\n', services.Stdout));
        greeter.Terminate();
        Assert.Equal(0, await greeter.WaitForExitAsync(TimeSpan.FromSeconds(20)));

        await TheTemplatesServiceBuildsTestsAndRuns(feed, version, Path.Combine(tools, "micro"));
    }

    /// <summary>
    /// The template package installed (into a template hive of this test's own), `micro new Orders` from the installed tool
    /// and `dotnet new micro-web`; both built with Micro.Actors.* from the feed alone (other packages from the machine's
    /// cache, as a team's CI has them); the generated tests pass; the generated service runs and its typed client calls it.
    /// </summary>
    private async Task TheTemplatesServiceBuildsTestsAndRuns(string feed, string version, string micro)
    {
        var hive = new Dictionary<string, string> { ["DOTNET_CLI_HOME"] = Path.Combine(_dir, "home"), ["DOTNET_NOLOGO"] = "1", ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1" };
        await MustRunAsync("dotnet", ["new", "install", Path.Combine(feed, $"Micro.Actors.Templates.{version}.nupkg")], hive);
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);
        var bad = await RunAsync(micro, ["new", "1-orders", "--dir", Path.Combine(work, "bad")], hive);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains(bad.Stderr, l => l.Contains("is not a name for a service", StringComparison.Ordinal));
        var created = await MustRunAsync(micro, ["new", "Orders", "--dir", Path.Combine(work, "Orders")], hive);
        Assert.Contains(created.Stdout, l => l.StartsWith("Created Orders", StringComparison.Ordinal));
        await MustRunAsync("dotnet", ["new", "micro-web", "--name", "Shop", "--output", Path.Combine(work, "Shop")], hive);

        var orders = Path.Combine(work, "Orders");
        Assert.Contains("[MicroService(\"orders\")]", await File.ReadAllTextAsync(Path.Combine(orders, "Orders.Contracts", "IOrders.cs")));
        Assert.DoesNotContain(Directory.EnumerateFiles(work, "*.csproj", SearchOption.AllDirectories),
            p => File.ReadAllText(p).Contains("ProjectReference Include=\"..\\..", StringComparison.Ordinal) || File.ReadAllText(p).Contains("Micro.Actors.csproj", StringComparison.Ordinal));

        // Micro.Actors.* only from the feed; everything else from the machine's package cache (read-only, as a fallback folder).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        await File.WriteAllTextAsync(Path.Combine(work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="feed"><package pattern="Micro.Actors*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
              <fallbackPackageFolders>
                <add key="machine" value="{cache}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        var packages = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_dir, "template-packages"), ["DOTNET_NOLOGO"] = "1" };
        // Both in one build (one restore, one MSBuild): the service's solution and the web app.
        var both = Path.Combine(work, "both.slnx");
        await File.WriteAllTextAsync(both, """
            <Solution>
              <Project Path="Orders/Orders.Contracts/Orders.Contracts.csproj" />
              <Project Path="Orders/Orders/Orders.csproj" />
              <Project Path="Orders/Orders.Client/Orders.Client.csproj" />
              <Project Path="Orders/Orders.Tests/Orders.Tests.csproj" />
              <Project Path="Shop/Shop.csproj" />
            </Solution>
            """);
        await MustRunAsync("dotnet", ["build", both], packages);
        var test = await MustRunAsync("dotnet", ["test", orders, "--no-build"], packages);
        Assert.Contains(test.Stdout, l => l.Contains("Passed!", StringComparison.Ordinal) && l.Contains("Passed:     3", StringComparison.Ordinal));

        // The generated service, and its console caller with the typed client.
        var port = TestCluster.FreePort();
        using var service = ProcessRunner.Start("dotnet", [Path.Combine(orders, "Orders", "bin", "Debug", "net10.0", "Orders.dll"), $"--Micro:Port={port}"]);
        // The template's service logs to stdout (the console logger's default, as a container's logs are read).
        await Eventually.TrueAsync(() => service.HasExited || service.Stdout.Any(l => l.Contains("is Up in cluster", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the generated service to be Up");
        Assert.False(service.HasExited, service.Describe());
        var caller = await MustRunAsync("dotnet", [Path.Combine(orders, "Orders.Client", "bin", "Debug", "net10.0", "Orders.Client.dll"),
            "--name", "Ann", $"--Micro:SeedNodes:0=127.0.0.1:{port}"]);
        Assert.Equal(["Hello Ann", "count 1", "count 2", "count 3"], caller.Stdout.Where(l => l.Length > 0));

        service.Kill();
        await service.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(service.IsGone(), "the generated service is still running");
    }

}
