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

    internal static QueueJob From(JsonElement v) => new(
        v.GetProperty("resource").GetString()!,
        v.GetProperty("id").GetInt64(),
        Enum.Parse<JobState>(v.GetProperty("state").GetString()!, ignoreCase: true),
        v.GetProperty("clientId").GetString()!,
        Enum.Parse<Priority>(v.GetProperty("priority").GetString()!, ignoreCase: true),
        v.GetProperty("load").GetInt64(),
        v.GetProperty("attempts").GetInt32(),
        v.GetProperty("maxAttempts").GetInt32(),
        v.TryGetProperty("position", out var p) ? p.GetInt32() : null,
        v.TryGetProperty("workerId", out var w) ? w.GetString() : null,
        v.TryGetProperty("progress", out var pr) ? pr.GetDouble() : null,
        v.TryGetProperty("progressMessage", out var pm) ? pm.GetString() : null,
        v.TryGetProperty("result", out var r) ? r.Clone() : null,
        v.TryGetProperty("error", out var e) ? e.GetString() : null,
        v.TryGetProperty("payload", out var pl) ? pl.Clone() : null,
        v.TryGetProperty("fencingToken", out var f) ? f.GetInt64() : null,
        v.TryGetProperty("visibleUntil", out var vu) ? vu.GetDateTimeOffset() : null,
        v.TryGetProperty("startedAt", out var sa) ? sa.GetDateTimeOffset() : null);
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
