using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Micro.Actors.Cli;

/// <summary>
/// `micro new NAME`: a new service from the micro-service template (or a web app from micro-web), as
/// go-micro's `micro new` did. It runs `dotnet new`, so the templates come from the Micro.Actors.Templates package.
/// </summary>
internal static partial class NewCommand
{
    public const string InstallHint = "dotnet new install Micro.Actors.Templates";

    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "The service's name, a C# identifier (e.g. Orders); its service name is the lower case (orders)" };
        var web = new Option<bool>("--web") { Description = "An ASP.NET Core app that calls services (micro-web) instead of a service" };
        var dir = new Option<string?>("--dir") { Description = "Where to create it (default: ./NAME)" };
        var command = new Command("new", "Create a service (contracts, implementation, typed-client caller, tests) from the dotnet new template") { name, web, dir };
        command.SetAction((r, ct) => RunAsync(r.GetValue(name)!, r.GetValue(web), r.GetValue(dir), ct));
        return command;
    }

    private static async Task<int> RunAsync(string name, bool web, string? dir, CancellationToken ct)
    {
        if (!Identifier().IsMatch(name))
        {
            Console.Error.WriteLine($"error: '{name}' is not a name for a service: use a C# identifier such as Orders or OrderHistory");
            return ExitCodes.BadInput;
        }
        var output = Path.GetFullPath(dir ?? name);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
        {
            Console.Error.WriteLine($"error: {output} is not empty: give another --dir, or remove what is there");
            return ExitCodes.BadInput;
        }

        var template = web ? "micro-web" : "micro-service";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["new", template, "--name", name, "--output", output]) start.ArgumentList.Add(arg);
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"error: cannot run dotnet ({e.Message}): micro new needs the .NET SDK on the PATH");
            return ExitCodes.Internal;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            var said = (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false));
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine(said.Trim());
                Console.Error.WriteLine(said.Contains(template, StringComparison.Ordinal) && said.Contains("No templates", StringComparison.OrdinalIgnoreCase)
                    ? $"error: the {template} template is not installed: {InstallHint}"
                    : $"error: dotnet new {template} failed (exit {process.ExitCode})");
                return ExitCodes.Internal;
            }
        }

        Console.WriteLine($"Created {name} in {output}");
        Console.WriteLine(web
            ? $"  dotnet run --project {Relative(output)}"
            : $"""
                cd {Relative(output)}
                dotnet test                                  # two nodes in the test process
                dotnet run --project {name}                   # the service ({name.ToLowerInvariant()}), a single local node on 127.0.0.1:4053
                dotnet run --project {name}.Client -- --name Ann   # calls it with the typed client
              """);
        return ExitCodes.Ok;
    }

    private static string Relative(string path) => Path.GetRelativePath(Directory.GetCurrentDirectory(), path);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Identifier();
}
