namespace OrleansQueue.Contracts;

/// <summary>
/// The jobs of one rate-limited resource, keyed by its name: callers enqueue and follow them, workers take them and report
/// heartbeats, progress, results and failures, under the same budget as the resource's leases.
/// Every operation answers after the store has committed what it changed, and answers refusals (unknown resource or
/// request, quota, a store that failed) as an <see cref="Outcome{T}.Problem"/> rather than an exception. A tenant only ever
/// sees its own requests and jobs: another tenant's look unknown.
/// </summary>
[Alias("OrleansQueue.IResourceJobs")]
public interface IResourceJobs : IGrainWithStringKey
{
    [Alias("Enqueue")]
    Task<Outcome<JobView>> Enqueue(Caller caller, EnqueueBody body);

    /// <summary>A job; a worker (<paramref name="withPayload"/>, admin only) sees its payload too.</summary>
    [Alias("GetJob")]
    Task<Outcome<JobView>> GetJob(Caller caller, long id, bool withPayload);

    /// <summary>Answers a job and, while it is unfinished, subscribes <paramref name="observer"/> (when given) to hear that it
    /// changed, in one turn. With <paramref name="requirePush"/> a polling-only resource refuses (a watch, which follows the
    /// job's stream); without, it does not (a long-poll).</summary>
    [Alias("WatchJob")]
    Task<Outcome<JobView>> WatchJob(Caller caller, long id, IResourceObserver? observer, bool requirePush);

    /// <summary>Stops pushing job <paramref name="id"/>'s changes to <paramref name="observer"/>.</summary>
    [Alias("UnwatchJob")]
    Task UnwatchJob(long id, IResourceObserver observer);

    [Alias("CancelJob")]
    Task<Outcome<JobView>> CancelJob(Caller caller, long id);

    /// <summary>A worker takes up to <paramref name="max"/> jobs. With none queued it waits up to <paramref name="wait"/>: the
    /// answer is then no job, with a poll id, and <paramref name="observer"/> hears <see cref="RequestPhase.JobAssigned"/> (one
    /// job) or <see cref="RequestPhase.PollExpired"/>. Ending that wait with <see cref="CancelPoll"/> gives back a job pushed to
    /// it that the worker has not acted on.</summary>
    [Alias("TakeJob")]
    Task<TakeAnswer> TakeJob(Caller caller, string workerId, int max, TimeSpan wait, IResourceObserver observer);

    /// <summary>Ends a worker's wait for a job (it went away), giving back a job pushed to that wait that the worker has not acted on.</summary>
    [Alias("CancelPoll")]
    Task CancelPoll(long pollId);

    /// <summary>A worker appends to the output of a job it runs (also a heartbeat).</summary>
    [Alias("AppendOutput")]
    Task<Outcome<JobView>> AppendOutput(Caller caller, long id, OutputBody body);

    /// <summary>A job's output after byte <paramref name="after"/> (0: from the start), up to about a MiB at once.</summary>
    [Alias("ReadOutput")]
    Task<Outcome<JobOutputView>> ReadOutput(Caller caller, long id, long after);

    /// <summary>A worker's heartbeat, progress, completion or failure of a job it runs.</summary>
    [Alias("Report")]
    Task<Outcome<JobView>> Report(Caller caller, long id, WorkerReportKind kind, WorkerReport report);
}
