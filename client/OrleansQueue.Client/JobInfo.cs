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
    DateTimeOffset? StartedAt,
    long OutputLength = 0)
{
    public bool IsFinished => State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled;

    internal static QueueJob From(JobView v) => new(v.Resource, v.Id, v.State, v.ClientId, v.Priority, v.Load, v.Attempts, v.MaxAttempts,
        v.Position, v.WorkerId, v.Progress, v.ProgressMessage, v.Result, v.Error, v.Payload, v.FencingToken, v.VisibleUntil, v.StartedAt,
        v.OutputLength);
}

/// <summary>A job being run by <see cref="OrleansQueueClient.RunWorkerAsync"/>: its payload, and ways to report progress and
/// to append output.</summary>
public sealed class JobContext
{
    private readonly Func<double, string?, CancellationToken, Task> _report;
    private readonly Func<string, long, CancellationToken, Task> _append;
    private readonly SemaphoreSlim _appending = new(1, 1);
    private long _outputLength;

    internal JobContext(QueueJob job, Func<double, string?, CancellationToken, Task> report, Func<string, long, CancellationToken, Task> append)
    {
        Job = job;
        _report = report;
        _append = append;
        _outputLength = job.OutputLength;
    }

    public QueueJob Job { get; }

    public JsonElement Payload => Job.Payload ?? default;

    /// <summary>How many bytes (UTF-8) of output the job has: what an earlier attempt left, and what this one appended.</summary>
    public long OutputLength => Interlocked.Read(ref _outputLength);

    /// <summary>Reports progress (it also keeps the job from timing out).</summary>
    public Task ReportProgressAsync(double progress, string? message = null, CancellationToken cancellationToken = default) =>
        _report(progress, message, cancellationToken);

    /// <summary>
    /// Appends <paramref name="text"/> to the job's output, which its caller reads as it grows (it also keeps the job from
    /// timing out). Appends go one at a time, in the order called, each at the offset where the output ends, so a retry
    /// after a lost answer is made once.
    /// </summary>
    /// <exception cref="OutputFullException">The output would pass the resource's <c>jobMaxOutputBytes</c>.</exception>
    public async Task AppendOutputAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        await _appending.WaitAsync(cancellationToken);
        try
        {
            await _append(text, _outputLength, cancellationToken);
            Interlocked.Add(ref _outputLength, System.Text.Encoding.UTF8.GetByteCount(text));
        }
        finally
        {
            _appending.Release();
        }
    }
}

/// <summary>The job ended without a result: dead-lettered (its last error inside) or cancelled.</summary>
public sealed class JobFailedException(QueueJob job)
    : OrleansQueueException("urn:orleansqueue:problem:job-failed", 500, $"Job {job.Id} on resource \"{job.Resource}\" ended {job.State}: {job.Error}", "id")
{
    public QueueJob Job { get; } = job;
}
