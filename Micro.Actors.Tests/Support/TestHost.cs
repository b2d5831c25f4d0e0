using System.Collections.Concurrent;
using Micro.Actors.Hosting;
using Micro.Actors.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Micro.Actors.Tests.Support;

/// <summary>
/// A Generic Host with a Micro.Actors node, in this process: configuration only from what a test gives
/// (in-memory values, a JSON file, a command line), logs captured, the node joined to a test cluster.
/// </summary>
public static class TestHost
{
    /// <param name="sources">Configuration sources below <paramref name="settings"/> and <paramref name="args"/> (appsettings, environment).</param>
    public static HostApplicationBuilder Builder(string[]? args = null, IDictionary<string, string?>? settings = null, Action<IConfigurationBuilder>? sources = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        sources?.Invoke(builder.Configuration);
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        if (args is not null) builder.Configuration.AddCommandLine(args);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }

    /// <summary>A host whose log events from <paramref name="level"/> up are kept in <paramref name="logs"/>.</summary>
    public static HostApplicationBuilder Logged(CapturedLogs logs, string level)
    {
        var builder = Builder(settings: new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = level });
        builder.Logging.AddProvider(logs);
        return builder;
    }

    /// <summary>A node's options for the test cluster (fast gossip, port 0, its seed), before the test's own.</summary>
    public static Action<MicroServiceOptions> In(TestCluster cluster, Action<MicroServiceOptions>? more = null) => o =>
    {
        o.ClusterName = cluster.ClusterName;
        o.Host = "127.0.0.1";
        o.Port = 0;
        o.Config = TestCluster.FastConfig;
        o.Environment = new Dictionary<string, string?>();
        if (cluster.Seed is { } seed) o.SeedNodes.Add(seed);
        more?.Invoke(o);
    };
}

/// <summary>Every log event of a host, with its category, level, state and scopes.</summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    public sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> State,
        IReadOnlyList<object?> Scopes, Exception? Exception)
    {
        public object? this[string key] => State.FirstOrDefault(kv => kv.Key == key).Value;

        public object? Scoped(string key) => Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>()
            .SelectMany(s => s).FirstOrDefault(kv => kv.Key == key).Value;
    }

    private readonly ConcurrentQueue<Entry> _entries = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<object?>();
            owner._scopes.ForEachScope((scope, list) => list.Add(scope), scopes);
            var fields = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            owner._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), [.. fields], scopes, exception));
        }
    }
}
