using Xunit;

// Two lanes, each running its tests one at a time. The default lane holds the in-process cluster
// tests, which time failure detection and deadlines; the Processes lane holds the tests that start
// real processes and mostly wait on them. One test of each runs side by side on 2 cores, which keeps
// the suite inside CI's budget; tests that load both cores themselves run Alone, after both lanes.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly, MaxParallelThreads = 2)]

namespace Micro.Actors.Tests;

/// <summary>The lane of the tests that start real processes (see AssemblyInfo).</summary>
[CollectionDefinition(Name)]
public sealed class ProcessesLane
{
    public const string Name = "Processes";
}

/// <summary>
/// Tests that load both cores themselves (the benchmark smoke runs three benchmark processes): they run
/// after the two lanes, with nothing beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneLane
{
    public const string Name = "Alone";
}
