using System.Text.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>A job as the silo reports it.</summary>
public sealed record QueueJob(
    string Resource,
    long Id,
    JobState State,
    string ClientId,
    Priority Priority,
    long Load,
    int Attempts,
    int MaxAttempts,
    int? Position,
    string? WorkerId,
    double? Progress,
    string? ProgressMessage,
    JsonElement? Result,
    string? Error,
    JsonElement? Payload,
    long? FencingToken,
    DateTimeOffset? VisibleUntil,
    DateTimeOffset? StartedAt)
{
    public bool IsFinished => State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled;

    internal static QueueJob From(JobView v) => new(v.Resource, v.Id, v.State, v.ClientId, v.Priority, v.Load, v.Attempts, v.MaxAttempts,
        v.Position, v.WorkerId, v.Progress, v.ProgressMessage, v.Result, v.Error, v.Payload, v.FencingToken, v.VisibleUntil, v.StartedAt);
}

/// <summary>A job being run by <see cref="OrleansQueueClient.RunWorkerAsync"/>: its payload, and a way to report progress.</summary>
public sealed class JobContext
{
    private readonly Func<double, string?, CancellationToken, Task> _report;

    internal JobContext(QueueJob job, Func<double, string?, CancellationToken, Task> report)
    {
        Job = job;
        _report = report;
    }

    public QueueJob Job { get; }

    public JsonElement Payload => Job.Payload ?? default;

    /// <summary>Reports progress (it also keeps the job from timing out).</summary>
    public Task ReportProgressAsync(double progress, string? message = null, CancellationToken cancellationToken = default) =>
        _report(progress, message, cancellationToken);
}

/// <summary>The job ended without a result: dead-lettered (its last error inside) or cancelled.</summary>
public sealed class JobFailedException(QueueJob job)
    : OrleansQueueException("urn:orleansqueue:problem:job-failed", 500, $"Job {job.Id} on resource \"{job.Resource}\" ended {job.State}: {job.Error}", "id")
{
    public QueueJob Job { get; } = job;
}
