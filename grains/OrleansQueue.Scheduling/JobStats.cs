namespace OrleansQueue.Scheduling;

/// <summary>Job-mode figures of one resource.</summary>
public sealed record JobStats
{
    /// <summary>Jobs by state now (finished ones while retained).</summary>
    public required IReadOnlyDictionary<JobState, int> ByState { get; init; }
    /// <summary>Queued jobs by priority level.</summary>
    public required IReadOnlyList<int> QueuedByPriority { get; init; }
    /// <summary>Queued jobs per client that has any.</summary>
    public required IReadOnlyDictionary<string, int> QueuedByClient { get; init; }
    /// <summary>Workers waiting for a job.</summary>
    public int WaitingWorkers { get; init; }
    /// <summary>Jobs enqueued (since activation).</summary>
    public long Enqueued { get; init; }
    /// <summary>Jobs completed.</summary>
    public long Completed { get; init; }
    /// <summary>Attempts reported failed by their worker.</summary>
    public long Failed { get; init; }
    /// <summary>Failed attempts put back to retry.</summary>
    public long Retried { get; init; }
    /// <summary>Jobs taken back from a worker that fell silent past the visibility timeout.</summary>
    public long Recovered { get; init; }
    /// <summary>Jobs that will not run again: attempts used up, or deadline passed.</summary>
    public long DeadLettered { get; init; }
    /// <summary>Time from enqueue to a worker taking it (each attempt).</summary>
    public TimeSpan QueueTimeP50 { get; init; }
    /// <summary>99th percentile of the time from enqueue to a worker taking it.</summary>
    public TimeSpan QueueTimeP99 { get; init; }
    /// <summary>Time from a worker taking it to its completion or failure.</summary>
    public TimeSpan RunTimeP50 { get; init; }
    /// <summary>99th percentile of the time a worker took.</summary>
    public TimeSpan RunTimeP99 { get; init; }
}
