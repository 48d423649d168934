namespace OrleansQueue.Scheduling;

/// <summary>What happened to a request without its holder asking: the host pushes these to the holder.</summary>
public enum ResourceEventKind
{
    /// <summary>A waiting request was granted; it must be claimed within the claim window.</summary>
    Granted,
    /// <summary>A waiting request reached its maximum wait.</summary>
    TimedOut,
    /// <summary>A waiting request was refused after it was accepted (a policy change made it impossible).</summary>
    Rejected,
    /// <summary>A lease was not renewed within its TTL; its concurrency returned.</summary>
    LeaseExpired,
    /// <summary>A grant was not claimed within the claim window; its concurrency returned.</summary>
    GrantReclaimed,
    /// <summary>A waiting worker (<see cref="ResourceEvent.RequestId"/> is its poll) was handed job <see cref="ResourceEvent.JobId"/>.</summary>
    JobAssigned,
    /// <summary>A worker's wait for a job (<see cref="ResourceEvent.RequestId"/> is its poll) ended with no job.</summary>
    PollExpired,
    /// <summary>Job <see cref="ResourceEvent.RequestId"/> changed state or reported progress; read it with GetJob.</summary>
    JobChanged,
    /// <summary>Job <see cref="ResourceEvent.RequestId"/>'s worker appended <see cref="ResourceEvent.Output"/> to its output.</summary>
    JobOutput,
}

/// <summary>One event of a resource, in the order it happened.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="RequestId">The ticket or lease it happened to.</param>
/// <param name="ClientId">The client that made the request.</param>
/// <param name="Load">The request's load.</param>
/// <param name="At">When it happened, on the resource's clock.</param>
/// <param name="FencingToken">For <see cref="ResourceEventKind.Granted"/>: the lease's fencing token.</param>
/// <param name="ExpiresAt">For <see cref="ResourceEventKind.Granted"/>: when the grant is reclaimed unless claimed.</param>
/// <param name="Rejection">For <see cref="ResourceEventKind.TimedOut"/> and <see cref="ResourceEventKind.Rejected"/>: why.</param>
/// <param name="Waited">For <see cref="ResourceEventKind.Granted"/>: how long the request waited.</param>
/// <param name="Priority">The request's priority.</param>
/// <param name="JobId">For <see cref="ResourceEventKind.JobAssigned"/>: the job handed out.</param>
/// <param name="Output">For <see cref="ResourceEventKind.JobOutput"/>: what was appended, at its offset.</param>
public readonly record struct ResourceEvent(
    ResourceEventKind Kind,
    long RequestId,
    string ClientId,
    long Load,
    DateTimeOffset At,
    long FencingToken = 0,
    DateTimeOffset? ExpiresAt = null,
    Rejection? Rejection = null,
    TimeSpan Waited = default,
    Priority Priority = Priority.Normal,
    long JobId = 0,
    JobOutputChunk? Output = null);
