// Cluster tests time failure detection and deadlines; on 2 cores they run one at a time so that
// one test's CPU load cannot make another's nodes look unreachable.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
