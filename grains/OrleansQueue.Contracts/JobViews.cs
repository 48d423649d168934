using System.Text.Json;
namespace OrleansQueue.Contracts;

/// <summary>Enqueues a job. <see cref="Payload"/> (any JSON) is required; the rest is optional.</summary>
/// <param name="DeadlineMs">When set, a job no worker has taken by then is dead-lettered.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.EnqueueBody")]
public sealed record EnqueueBody([property: Id(0)] JsonElement? Payload = null, [property: Id(1)] string? ClientId = null, [property: Id(2)] long? Load = null, [property: Id(3)] Priority? Priority = null,
    [property: Id(4)] long? DeadlineMs = null, [property: Id(5)] string? IdempotencyKey = null);

/// <summary>A worker's heartbeat, progress, completion (<see cref="Result"/>, any JSON) or failure (<see cref="Error"/>).</summary>
/// <param name="Upstream">What the upstream the job called answered (its status and rate-limit headers), which an adaptive
/// resource learns from as from a lease's release.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.WorkerReport")]
public sealed record WorkerReport([property: Id(0)] string? WorkerId = null, [property: Id(1)] double? Progress = null, [property: Id(2)] string? Message = null, [property: Id(3)] JsonElement? Result = null,
    [property: Id(4)] string? Error = null, [property: Id(5)] long? ActualLoad = null, [property: Id(6)] UpstreamBody? Upstream = null);

/// <summary>A worker asks for the next job, or up to <see cref="Max"/> jobs, waiting up to <see cref="WaitMs"/> for one when none is queued.</summary>
/// <param name="Max">How many jobs the worker can start now (1 to 100). Without it the answer is one job or none (204);
/// with it, <see cref="TakenJobs"/>.</param>
public sealed record TakeBody(string? WorkerId = null, long? WaitMs = null, int? Max = null);

/// <summary>What a take with <see cref="TakeBody.Max"/> answers: the jobs handed out, oldest first; none when the wait ended without one.</summary>
public sealed record TakenJobs(IReadOnlyList<JobView> Jobs);

/// <summary>A worker appends <see cref="Text"/> to a job's output. With <see cref="Offset"/> (where the worker believes the
/// output ends) a retried append is made once: one that repeats what already stands there answers as the first did.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.OutputBody")]
public sealed record OutputBody([property: Id(0)] string? WorkerId = null, [property: Id(1)] string? Text = null, [property: Id(2)] long? Offset = null);

/// <summary>A stretch of a job's output: <see cref="Text"/> from byte <see cref="Offset"/> (UTF-8, of everything appended)
/// up to <see cref="Next"/>, the offset to read after next. Nothing more will come once <see cref="Complete"/>.</summary>
/// <param name="Length">The whole output's length so far.</param>
/// <param name="State">The job's state when this was read.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.JobOutputView")]
public sealed record JobOutputView(
    [property: Id(0)] string Resource,
    [property: Id(1)] long JobId,
    [property: Id(2)] long Offset,
    [property: Id(3)] string Text,
    [property: Id(4)] long Next,
    [property: Id(5)] long Length,
    [property: Id(6)] JobState State)
{
    /// <summary>The job has finished and this read reached the end of its output.</summary>
    public bool Complete => Next == Length && State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled;
}

/// <summary>A job as callers and workers see it.</summary>
/// <param name="OutputLength">How many bytes (UTF-8) of output its workers appended.</param>
/// <param name="Output">Only on the job's stream: the output this change appended.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.JobView")]
public sealed record JobView(
    [property: Id(0)] string Resource,
    [property: Id(1)] long Id,
    [property: Id(2)] JobState State,
    [property: Id(3)] string ClientId,
    [property: Id(4)] Priority Priority,
    [property: Id(5)] long Load,
    [property: Id(6)] int Attempts,
    [property: Id(7)] int MaxAttempts,
    [property: Id(8)] int? Position = null,
    [property: Id(9)] string? WorkerId = null,
    [property: Id(10)] double? Progress = null,
    [property: Id(11)] string? ProgressMessage = null,
    [property: Id(12)] JsonElement? Result = null,
    [property: Id(13)] string? Error = null,
    [property: Id(14)] JsonElement? Payload = null,
    [property: Id(15)] long? FencingToken = null,
    [property: Id(16)] DateTimeOffset? VisibleUntil = null,
    [property: Id(17)] DateTimeOffset? EnqueuedAt = null,
    [property: Id(18)] DateTimeOffset? FinishedAt = null,
    [property: Id(19)] DateTimeOffset? StartedAt = null,
    [property: Id(20)] long OutputLength = 0,
    [property: Id(21)] JobOutputView? Output = null)
{
    public bool IsFinished => State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled;

    /// <summary>Whether <paramref name="caller"/> may see this job, as published on its stream (client ids as the scheduler names them).</summary>
    public bool IsVisibleTo(Caller caller) => caller.IsAdmin || caller.Owns(ClientId);

    /// <summary>The job, as published on its stream, as <paramref name="caller"/> sees it: its own names for the client and worker.</summary>
    public JobView For(Caller caller) => this with
    {
        ClientId = caller.ClientIdOf(ClientId),
        WorkerId = WorkerId is { } worker ? caller.ClientIdOf(worker) : null,
    };
}

/// <summary>What a worker reports about a job.</summary>
[GenerateSerializer, Alias("OrleansQueue.WorkerReportKind")]
public enum WorkerReportKind
{
    Heartbeat,
    Progress,
    Complete,
    Fail,
}

/// <summary>A worker's take: the jobs handed out, none, or a wait under <see cref="PollId"/> (whose
/// <see cref="RequestPhase.JobAssigned"/> push names one job).</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.TakeAnswer")]
public sealed record TakeAnswer([property: Id(0)] Outcome<JobView[]> Outcome, [property: Id(1)] long PollId = 0);
