namespace OrleansQueue.Scheduling;

/// <summary>Where a job is in its life.</summary>
public enum JobState : byte
{
    /// <summary>Waiting for a worker and for budget, in priority and fair order.</summary>
    Queued,
    /// <summary>Taken by a worker, which holds its lease until the visibility timeout (renewed by heartbeats and progress).</summary>
    Running,
    /// <summary>Failed; queues again after its backoff.</summary>
    Retrying,
    /// <summary>Completed with a result.</summary>
    Completed,
    /// <summary>Failed on its last attempt, or its deadline passed before it ran: it will not run again.</summary>
    DeadLettered,
    /// <summary>Cancelled by its caller while queued.</summary>
    Cancelled,
}
