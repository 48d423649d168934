namespace OrleansQueue.Scheduling.Internals;

internal enum RequestState : byte
{
    Free,
    Waiting,
    /// <summary>Granted to a waiting request; reclaimed unless claimed within the claim window.</summary>
    Pending,
    Active,
    /// <summary>A worker waiting for a job.</summary>
    Polling,
    /// <summary>A failed job waiting out its backoff before it queues again.</summary>
    Retrying,
    /// <summary>A completed or dead-lettered job, kept for its retention period.</summary>
    Finished,
}

/// <summary>
/// One request through its whole life: a waiting ticket, then a lease under the same id. Instances are
/// pooled, so <see cref="Version"/> tells a live timer entry from a stale one.
/// </summary>
internal sealed class Request
{
    public long Id;
    public string ClientId = "";
    public long Load;
    public Priority Priority;
    public RequestState State;

    // Ticks (UTC) of the resource's clock.
    public long EnqueuedAt;
    public long WaitDeadline;
    public long TimerAt;
    public int Version;

    // Waitlist links: FIFO of one client at one level.
    public ClientQueue? Queue;
    public Request? Prev;
    public Request? Next;
    public long QueueSeq;

    /// <summary>Set when the request is a job (see <see cref="JobInfo"/>); null for plain acquires and worker polls.</summary>
    public JobInfo? Job;

    // Lease.
    public long FencingToken;
    public long GrantedAt;
    public long WindowSeq;

    /// <summary>The level the request waits at now, which aging may have raised above <see cref="Priority"/>.</summary>
    public int Level;

    public bool IsLease => State is RequestState.Pending or RequestState.Active;
}
