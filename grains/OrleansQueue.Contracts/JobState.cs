namespace OrleansQueue.Contracts;

/// <summary>Where a job is in its life. The numbers are part of the wire format: they never change.</summary>
public enum JobState : byte
{
    /// <summary>Waiting for a worker.</summary>
    Queued = 0,
    /// <summary>Taken by a worker, which heartbeats it.</summary>
    Running = 1,
    /// <summary>An attempt failed; it is queued again after its backoff.</summary>
    Retrying = 2,
    /// <summary>Done, with its result.</summary>
    Completed = 3,
    /// <summary>Failed its last attempt, or passed its deadline unstarted.</summary>
    DeadLettered = 4,
    /// <summary>Withdrawn by its caller before a worker took it.</summary>
    Cancelled = 5,
}
