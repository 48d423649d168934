namespace OrleansQueue.Scheduling.Persistence;

/// <summary>The stored form of a job in any state. Times are UTC ticks; <see cref="TimerAt"/> is its next deadline
/// (wait deadline while queued, visibility while running, backoff end while retrying, retention end when finished).</summary>
public sealed record JobRecord(
    long Id,
    string ClientId,
    long Load,
    Priority Priority,
    int Level,
    JobState State,
    string Payload,
    int MaxAttempts,
    int Attempts,
    long EnqueuedAt,
    long WaitDeadline,
    long TimerAt,
    long QueueSeq,
    long FencingToken,
    long GrantedAt,
    long WindowSeq,
    string? WorkerId,
    double? Progress,
    string? ProgressMessage,
    string? Result,
    string? Error,
    long FirstEnqueuedAt,
    long StartedAt,
    long FinishedAt);
