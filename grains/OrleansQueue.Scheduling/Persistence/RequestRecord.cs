namespace OrleansQueue.Scheduling.Persistence;

/// <summary>The stored form of a live request: a waiting ticket or a lease. Times are UTC ticks.</summary>
/// <param name="QueueSeq">For a waiting request: its place in its client's queue at its level (restored in this order).</param>
public sealed record RequestRecord(
    long Id,
    string ClientId,
    long Load,
    Priority Priority,
    int Level,
    RequestStatusKind State,
    long EnqueuedAt,
    long WaitDeadline,
    long TimerAt,
    long FencingToken,
    long GrantedAt,
    long WindowSeq,
    long QueueSeq);
