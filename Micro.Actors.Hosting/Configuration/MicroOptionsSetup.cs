using Micro.Actors.Config;
using Micro.Actors.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Micro.Actors.Hosting.Configuration;

/// <summary>
/// <see cref="MicroServiceOptions"/> under a host, highest first: what code sets (the options lambda of
/// AddMicroService, <c>services.Configure&lt;MicroServiceOptions&gt;</c>), then <see cref="IConfiguration"/>'s
/// <c>Micro</c> section, then HOCON given in <see cref="MicroServiceOptions.Config"/>, then config/micro.conf.
/// The MICRO_* variables of the plain <see cref="MicroService"/> still count, below the configuration (which
/// has <c>Micro__Port</c> and the like of its own).
/// </summary>
internal sealed class MicroOptionsSetup(IConfiguration configuration) : IPostConfigureOptions<MicroServiceOptions>, IValidateOptions<MicroServiceOptions>
{
    private MicroConfiguration? _read;

    private MicroConfiguration Read() => _read ??= MicroConfiguration.Read(configuration);

    public void PostConfigure(string? name, MicroServiceOptions options)
    {
        var read = Read();
        // Later HOCON wins: the configuration's section over the options' own HOCON.
        options.Config = string.IsNullOrWhiteSpace(options.Config) ? read.Hocon : options.Config + "\n" + read.Hocon;
        foreach (var (key, value) in read.Metadata) options.Metadata.TryAdd(key, value);
        options.Environment ??= VariablesBelow(read);
        options.HandleSignals = false; // the host owns SIGTERM and stops the node in its own order
    }

    /// <summary>The variables MicroSettings reads, and the setting each stands for.</summary>
    private static readonly (string Variable, string Setting)[] Variables =
    [
        ("MICRO_HOST", "micro.host"), ("MICRO_PORT", "micro.port"), ("MICRO_SEED_NODES", "micro.seed-nodes"),
        ("MICRO_TLS_CERTIFICATE", "micro.tls.certificate.path"), ("MICRO_TLS_PASSWORD", "micro.tls.certificate.password"),
        ("MICRO_TLS_TRUSTED", "micro.tls.trusted-certificates"),
    ];

    /// <summary>
    /// The process's MICRO_* variables, less those whose setting the configuration gives (it wins); TLS is one
    /// setting: any Micro:Tls key in the configuration puts every MICRO_TLS_* variable aside.
    /// </summary>
    private static Dictionary<string, string?> VariablesBelow(MicroConfiguration read)
    {
        var tlsConfigured = read.Sets("micro.tls");
        return Variables.Where(v => !read.TryGetSource(v.Setting, out _, out _) && !(tlsConfigured && v.Setting.StartsWith("micro.tls.", StringComparison.Ordinal)))
            .ToDictionary(v => v.Variable, v => Environment.GetEnvironmentVariable(v.Variable));
    }

    public ValidateOptionsResult Validate(string? name, MicroServiceOptions options)
    {
        var read = Read();
        if (read.Problems.Count > 0) return ValidateOptionsResult.Fail(read.Problems);
        try
        {
            var config = MicroConfig.Load(options.Config);
            Discovery.DiscoveryBootstrap.Read(config, MicroSettings.Resolve(config, options, options.Environment));
            Discovery.DiscoveryBootstrap.StartTimeout(config);
            return ValidateOptionsResult.Success;
        }
        catch (MicroConfigException e)
        {
            return ValidateOptionsResult.Fail(read.Describe(e));
        }
    }
}
