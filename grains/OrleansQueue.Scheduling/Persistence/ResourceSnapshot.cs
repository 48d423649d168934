namespace OrleansQueue.Scheduling.Persistence;

/// <summary>Everything a <see cref="ResourceScheduler"/> needs to come back after a restart.</summary>
public sealed record ResourceSnapshot
{
    /// <summary>The policy in force.</summary>
    public required ResourcePolicy Policy { get; init; }
    /// <summary>The last request id issued.</summary>
    public long LastId { get; init; }
    /// <summary>The last fencing token issued.</summary>
    public long LastFencingToken { get; init; }
    /// <summary>The sequence number the next window entry gets.</summary>
    public long WindowNextSeq { get; init; }
    /// <summary>The last moment the resource is known to have run (UTC ticks; 0 for "just now"): the time since then, when
    /// nobody ran it, does not count against waits and leases. The store tells it (its last write, or its owner's last
    /// heartbeat if later).</summary>
    public long SavedAt { get; init; }
    /// <summary>Live requests.</summary>
    public IReadOnlyList<RequestRecord> Requests { get; init; } = [];
    /// <summary>Jobs in every state still kept.</summary>
    public IReadOnlyList<JobRecord> Jobs { get; init; } = [];
    /// <summary>The output of those jobs, each job's chunks in order of their offsets.</summary>
    public IReadOnlyList<JobOutputChunk> Output { get; init; } = [];
    /// <summary>The window's spending log.</summary>
    public IReadOnlyList<WindowRecord> Window { get; init; } = [];
    /// <summary>Answers kept for idempotent retries.</summary>
    public IReadOnlyList<IdempotencyRecord> Idempotency { get; init; } = [];
}
