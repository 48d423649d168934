namespace OrleansQueue.Scheduling;

/// <summary>A job as its caller or worker sees it.</summary>
/// <param name="Position">While queued: at most this many jobs are handed out before it, itself included.</param>
/// <param name="Attempts">How many times it was handed to a worker (a worker that died or stalled counts).</param>
/// <param name="VisibleUntil">While running: when it returns to the queue unless its worker heartbeats.</param>
/// <param name="StartedAt">When its latest attempt was handed out (its grant, on the resource's clock).</param>
/// <param name="OutputLength">How many bytes (UTF-8) of output its workers appended (<see cref="ResourceScheduler.ReadOutput"/>).</param>
public sealed record JobStatus(
    long Id,
    string ClientId,
    JobState State,
    Priority Priority,
    long Load,
    string Payload,
    int Attempts,
    int MaxAttempts,
    int Position = 0,
    string? WorkerId = null,
    double? Progress = null,
    string? ProgressMessage = null,
    string? Result = null,
    string? Error = null,
    long FencingToken = 0,
    DateTimeOffset? VisibleUntil = null,
    DateTimeOffset? EnqueuedAt = null,
    DateTimeOffset? FinishedAt = null,
    DateTimeOffset? StartedAt = null,
    long OutputLength = 0);
