namespace OrleansQueue.Scheduling;

/// <summary>What happened to a request, as the resource's recent activity records it.</summary>
public enum ActivityKind
{
    /// <summary>A request was granted (at once or after waiting), or a job handed to a worker.</summary>
    Granted,
    /// <summary>A waiting request reached its maximum wait.</summary>
    TimedOut,
    /// <summary>A request or job was refused (at once, or later by a policy change), with its reason.</summary>
    Rejected,
    /// <summary>A claimed lease was not renewed within its TTL.</summary>
    Expired,
    /// <summary>A grant nobody claimed within the claim window.</summary>
    Reclaimed,
    /// <summary>A job ran out of attempts or of its deadline.</summary>
    DeadLettered,
    /// <summary>The upstream answered 429 or asked to retry later: grants pause (adaptive resources only).</summary>
    Throttled,
}

/// <summary>One entry of a resource's recent activity (a value: recording one on every grant allocates nothing).</summary>
/// <param name="Reason">For <see cref="ActivityKind.Rejected"/> and <see cref="ActivityKind.TimedOut"/>: why.</param>
public readonly record struct ActivityEntry(
    DateTimeOffset At, ActivityKind Kind, long RequestId, string ClientId, long Load, Priority Priority,
    RejectionReason? Reason = null, string? Detail = null);

/// <summary>What a resource did in one slice of time (<see cref="ResourceScheduler.ActivityBucketLength"/>).</summary>
/// <param name="Rejected">Refusals of every reason, timeouts of waiting requests included.</param>
/// <param name="Expired">Leases expired and grants reclaimed.</param>
public readonly record struct ActivityBucket(DateTimeOffset Start, long Granted, long Rejected, long Expired);

/// <summary>A lease as the resource holds it.</summary>
/// <param name="Claimed">Whether its holder claimed it (a pushed grant is reclaimed at <see cref="ExpiresAt"/> unless claimed).</param>
/// <param name="IsJob">Whether it is a running job's lease.</param>
public sealed record LeaseStatus(
    long Id, string ClientId, long Load, Priority Priority, long FencingToken, DateTimeOffset GrantedAt, DateTimeOffset ExpiresAt,
    bool Claimed, bool IsJob);
