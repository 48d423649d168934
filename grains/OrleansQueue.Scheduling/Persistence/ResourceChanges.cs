namespace OrleansQueue.Scheduling.Persistence;

/// <summary>
/// What changed in a <see cref="ResourceScheduler"/> since the last <see cref="ResourceScheduler.TakeChanges"/>: the host
/// writes it in one transaction before it announces any result of those operations (group commit).
/// </summary>
public sealed class ResourceChanges
{
    /// <summary>Requests created or changed (state, expiry, level), as they stand now.</summary>
    public List<RequestRecord> UpsertRequests { get; } = [];
    /// <summary>Jobs created or changed, as they stand now.</summary>
    public List<JobRecord> UpsertJobs { get; } = [];
    /// <summary>Requests and jobs that ended (and, for jobs, whose retention ended).</summary>
    public List<long> DeleteRequests { get; } = [];
    /// <summary>Output appended to jobs, in the order it was appended.</summary>
    public List<JobOutputChunk> AppendOutput { get; } = [];
    /// <summary>Window entries added or corrected.</summary>
    public List<WindowRecord> UpsertWindow { get; } = [];
    /// <summary>Window entries below this sequence number have left the window.</summary>
    public long WindowHeadSeq { get; set; }
    /// <summary>Idempotency answers to keep.</summary>
    public List<IdempotencyRecord> AddIdempotency { get; } = [];
    /// <summary>Idempotency keys whose retention ended.</summary>
    public List<string> DeleteIdempotency { get; } = [];
    /// <summary>The policy, when it changed.</summary>
    public ResourcePolicy? Policy { get; set; }
    /// <summary>The last request id issued.</summary>
    public long LastId { get; set; }
    /// <summary>The last fencing token issued.</summary>
    public long LastFencingToken { get; set; }
    /// <summary>The sequence number the next window entry gets.</summary>
    public long WindowNextSeq { get; set; }
    /// <summary>When these changes were taken (UTC ticks).</summary>
    public long SavedAt { get; set; }

    /// <summary>Whether anything but the scalars changed.</summary>
    public bool IsEmpty => UpsertRequests.Count == 0 && UpsertJobs.Count == 0 && AppendOutput.Count == 0 && DeleteRequests.Count == 0 && UpsertWindow.Count == 0
        && AddIdempotency.Count == 0 && DeleteIdempotency.Count == 0 && Policy is null;
}
