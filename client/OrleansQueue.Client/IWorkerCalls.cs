using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// How a worker takes and reports jobs, and how a job's output is read: through the resources' grains when the client has a grain factory
/// (<see cref="OrleansConnection"/>), else over the gateway's HTTP API (<see cref="HttpApi"/>). A refusal throws typed
/// (<see cref="OrleansQueueException"/>); a call that may not have arrived throws <see cref="ConnectionLostException"/>.
/// </summary>
internal interface IWorkerCalls
{
    /// <summary>Up to <paramref name="max"/> jobs with their payloads, oldest first; with none queued, waits up to
    /// <paramref name="wait"/> for one. Empty when none came. Cancelling withdraws the wait: a job handed to it meanwhile goes
    /// back to the waitlist.</summary>
    Task<IReadOnlyList<JobView>> TakeAsync(string resource, string worker, int max, TimeSpan wait, CancellationToken ct);

    /// <summary>A heartbeat, progress, completion or failure of a job the worker runs; answers the job as it now stands.</summary>
    Task<JobView> ReportAsync(string resource, long id, WorkerReportKind kind, WorkerReport report, CancellationToken ct);

    /// <summary>Appends to the output of a job the worker runs; answers the job as it now stands.</summary>
    Task<JobView> AppendOutputAsync(string resource, long id, OutputBody body, CancellationToken ct);

    /// <summary>A job's output after byte <paramref name="after"/>.</summary>
    Task<JobOutputView> ReadOutputAsync(string resource, long id, long after, CancellationToken ct);
}
