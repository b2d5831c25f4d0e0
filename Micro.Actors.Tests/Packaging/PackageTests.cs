using System.IO.Compression;
using System.Text.RegularExpressions;
using Micro.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Packaging;

/// <summary>
/// What `dotnet pack` of the solution ships: four packages of one version with their licence, README and XML
/// docs, the CLI among them a dotnet tool that installs from a folder feed with nothing else reachable.
/// </summary>
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
        await run.WaitForExitAsync(TimeSpan.FromMinutes(2));
        return run;
    }

    [Fact]
    public async Task The_solution_packs_four_packages_and_micro_installs_from_a_folder_feed_as_a_dotnet_tool()
    {
        // The suite runs on the solution's build: pack it as it is (the tests' own configuration).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var feed = Path.Combine(_dir, "feed");
        var pack = await RunAsync("dotnet", ["pack", Path.Combine(ProcessRunner.RepositoryRoot, "Micro.Actors.sln"), "--no-build", "--no-restore", "-c", configuration, "-o", feed]);
        Assert.True(pack.ExitCode == 0, pack.Describe());

        var version = Version;
        Assert.Matches(@"^\d+\.\d+\.\d+", version);
        var packages = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "Micro.Actors", "Micro.Actors.AspNetCore", "Micro.Actors.Cli", "Micro.Actors.Hosting" }.Select(p => $"{p}.{version}.nupkg"), packages);
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
            if (id == "Micro.Actors.Cli")
            {
                Assert.Contains("<packageType name=\"DotnetTool\" />", nuspec);
                Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/any/micro.dll", StringComparison.Ordinal));
            }
            else
            {
                Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
                Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml")); // XML docs for the IDE
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
    }
}
