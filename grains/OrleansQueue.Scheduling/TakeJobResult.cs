namespace OrleansQueue.Scheduling;

/// <summary>The answer to a worker asking for jobs.</summary>
/// <param name="Jobs">The jobs handed out now, oldest first (none, or up to the take's maximum): run each, heartbeat within
/// its visibility timeout, then complete or fail it.</param>
/// <param name="PollId">When no job could be handed out at once and the worker may wait: the id of its wait; a
/// <see cref="ResourceEventKind.JobAssigned"/> (with one job) or <see cref="ResourceEventKind.PollExpired"/> event with this id follows.</param>
public readonly record struct TakeJobResult(IReadOnlyList<JobStatus> Jobs, long PollId = 0)
{
    /// <summary>The first job handed out, if any (all of a take of one).</summary>
    public JobStatus? Job => Jobs.Count > 0 ? Jobs[0] : null;
}
