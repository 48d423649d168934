namespace OrleansQueue.Scheduling.Internals;

/// <summary>What a job carries beyond a plain request. Allocated only for jobs, so acquires stay small.</summary>
internal sealed class JobInfo(string payload, int maxAttempts)
{
    public readonly string Payload = payload;
    public readonly int MaxAttempts = maxAttempts;
    public JobState State = JobState.Queued;
    public int Attempts;
    public string? WorkerId;
    public double? Progress;
    public string? ProgressMessage;
    public string? Result;
    public string? Error;
    public long FirstEnqueuedAt;
    public long StartedAt;
    public long FinishedAt;
    /// <summary>The poll this running job was pushed to while its worker has not acted on it yet; 0 otherwise.</summary>
    public long PushedTo;
    /// <summary>What its workers appended; null until the first append.</summary>
    public JobOutput? Output;
}
