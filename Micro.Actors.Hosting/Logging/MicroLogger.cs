using System.Collections;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;
using AkkaLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Micro.Actors.Hosting.Logging;

/// <summary>
/// Akka's (and Micro.Actors') log events into the application's <see cref="ILoggerFactory"/>: one category per
/// component (the class that logged: <c>Akka.Cluster.Cluster</c>, <c>Micro.Actors.Server.ServerActor</c>),
/// so <c>Logging:LogLevel</c> sets levels per component; structured (the template and its named values);
/// and routine events at the level they deserve (<see cref="RoutineEvents"/>).
/// </summary>
public sealed class MicroLogger : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ILoggerFactory _factory;
    private readonly Dictionary<Type, ILogger> _loggers = [];
    private readonly Dictionary<string, ILogger> _bySource = new(StringComparer.Ordinal);

    public MicroLogger()
    {
        var setup = Context.System.Settings.Setup.Get<LoggerFactorySetup>();
        _factory = setup.HasValue ? setup.Value.LoggerFactory
            : throw new InvalidOperationException("MicroLogger needs the host's ILoggerFactory (LoggerFactorySetup); it is set up by AddMicroService");
    }

    /// <summary>
    /// The HOCON that routes a node's logs here: Akka's level is the lowest that the "Akka" or "Micro.Actors"
    /// categories let through, so Akka does no work for events nobody would see.
    /// </summary>
    internal static string Hocon(ILoggerFactory factory)
    {
        var akka = factory.CreateLogger("Akka");
        var micro = factory.CreateLogger("Micro.Actors");
        var level = new[] { LogLevel.Debug, LogLevel.Information, LogLevel.Warning }.FirstOrDefault(l => akka.IsEnabled(l) || micro.IsEnabled(l), LogLevel.Error);
        var akkaLevel = level switch { LogLevel.Debug => "DEBUG", LogLevel.Information => "INFO", LogLevel.Warning => "WARNING", _ => "ERROR" };
        return $"""
            akka.loggers = ["{typeof(MicroLogger).AssemblyQualifiedName}"]
            akka.loglevel = {akkaLevel}
            akka.stdout-loglevel = OFF
            """;
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent e:
                Log(e);
                return true;
            default:
                return false;
        }
    }

    private void Log(LogEvent e)
    {
        var (level, keepCause) = RoutineEvents.Classify(e);
        var logger = Category(e);
        if (!logger.IsEnabled(level)) return;
        var state = new State(e);
        logger.Log(level, default, state, keepCause ? e.Cause : null, static (s, _) => s.ToString());
    }

    private ILogger Category(LogEvent e)
    {
        if (e.LogClass is not { } type || type.Name.StartsWith("DummyClassForStringSources", StringComparison.Ordinal))
        {
            var source = e.LogSource ?? "";
            if (!_bySource.TryGetValue(source, out var bySource)) _bySource[source] = bySource = _factory.CreateLogger(FromSource(source));
            return bySource;
        }
        if (!_loggers.TryGetValue(type, out var logger))
            _loggers[type] = logger = _factory.CreateLogger(Name(type));
        return logger;
    }

    /// <summary>The category of an event Akka logs under a name ("Cluster (akka://micro)", "remoting-terminator"), not a class.</summary>
    internal static string FromSource(string source)
    {
        var word = source.Split(' ', '(')[0];
        if (word.Length == 0 || word.Contains("://", StringComparison.Ordinal)) return "Akka";
        word = word.Split('-')[0];
        return word.ToLowerInvariant() switch
        {
            "cluster" => "Akka.Cluster",
            "remoting" => "Akka.Remote",
            _ => "Akka." + char.ToUpperInvariant(word[0]) + word[1..],
        };
    }

    /// <summary>A type's name as a category: namespace and name, no generic arity, nested types with a dot.</summary>
    internal static string Name(Type type)
    {
        var name = (type.IsGenericType ? type.GetGenericTypeDefinition() : type).FullName ?? type.Name;
        var tick = name.IndexOf('`');
        return (tick > 0 ? name[..tick] : name).Replace('+', '.');
    }

    /// <summary>The event as structured state: its named values, where it came from, and the template ({OriginalFormat}).</summary>
    private sealed class State(LogEvent e) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _fields = Fields(e);

        private static KeyValuePair<string, object?>[] Fields(LogEvent e)
        {
            var fields = new List<KeyValuePair<string, object?>>();
            // The trace the event was logged in (Activity.Current does not cross the mailbox; Akka carries it).
            if (e.ActivityContext is { } trace && trace.TraceId != default)
            {
                fields.Add(new("TraceId", trace.TraceId.ToString()));
                fields.Add(new("SpanId", trace.SpanId.ToString()));
            }
            if (e.TryGetProperties(out var properties) && properties is not null)
                foreach (var (key, value) in properties) fields.Add(new(key, value));
            fields.Add(new("LogSource", e.LogSource));
            fields.Add(new("{OriginalFormat}", e.GetTemplate()));
            return [.. fields];
        }

        public int Count => _fields.Length;
        public KeyValuePair<string, object?> this[int index] => _fields[index];
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString()
        {
            try { return e.Message?.ToString() ?? ""; }
            catch (FormatException) { return $"{e.GetTemplate()} ({string.Join(", ", e.GetParameters())})"; }
        }
    }

    internal static LogLevel Level(AkkaLevel level) => level switch
    {
        AkkaLevel.DebugLevel => LogLevel.Debug,
        AkkaLevel.InfoLevel => LogLevel.Information,
        AkkaLevel.WarningLevel => LogLevel.Warning,
        _ => LogLevel.Error,
    };
}
