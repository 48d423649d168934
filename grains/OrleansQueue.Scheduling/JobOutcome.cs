namespace OrleansQueue.Scheduling;

/// <summary>The answer to a worker's heartbeat, progress, completion or failure report.</summary>
public enum JobOutcome : byte
{
    /// <summary>Taken into account (a repeated completion is accepted once and answers Ok again).</summary>
    Ok,
    /// <summary>No such job.</summary>
    NotFound,
    /// <summary>The job is not running for this worker: it timed out and went back to the queue, or another worker has it.</summary>
    NotYours,
    /// <summary>The job has finished differently (completed, dead-lettered, cancelled) and takes no more reports.</summary>
    Finished,
    /// <summary>An append would take the job's output past the policy's <see cref="ResourcePolicy.JobMaxOutputBytes"/>.</summary>
    OutputFull,
    /// <summary>An append at an offset that is not where the output ends, and that does not repeat what stands there.</summary>
    OutputConflict,
}
