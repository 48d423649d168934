namespace OrleansQueue.Scheduling;

/// <summary>The answer to a worker asking for the next job.</summary>
/// <param name="Job">The job handed out now, if any: run it, heartbeat within its visibility timeout, then complete or fail it.</param>
/// <param name="PollId">When no job could be handed out at once and the worker may wait: the id of its wait; a
/// <see cref="ResourceEventKind.JobAssigned"/> or <see cref="ResourceEventKind.PollExpired"/> event with this id follows.</param>
public readonly record struct TakeJobResult(JobStatus? Job, long PollId = 0);
