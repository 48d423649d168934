using System.Text.Json;
using OrleansQueue.Grains;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Enqueues a job. <see cref="Payload"/> (any JSON) is required; the rest is optional.</summary>
/// <param name="DeadlineMs">When set, a job no worker has taken by then is dead-lettered.</param>
public sealed record EnqueueBody(JsonElement? Payload = null, string? ClientId = null, long? Load = null, Priority? Priority = null,
    long? DeadlineMs = null, string? IdempotencyKey = null);

/// <summary>A worker asks for the next job, waiting up to <see cref="WaitMs"/> for one.</summary>
public sealed record TakeBody(string? WorkerId = null, long? WaitMs = null);

/// <summary>A worker's heartbeat, progress, completion (<see cref="Result"/>, any JSON) or failure (<see cref="Error"/>).</summary>
public sealed record WorkerReport(string? WorkerId = null, double? Progress = null, string? Message = null, JsonElement? Result = null,
    string? Error = null, long? ActualLoad = null);

/// <summary>A job as callers and workers see it.</summary>
public sealed record JobView(
    string Resource,
    long Id,
    JobState State,
    string ClientId,
    Priority Priority,
    long Load,
    int Attempts,
    int MaxAttempts,
    int? Position = null,
    string? WorkerId = null,
    double? Progress = null,
    string? ProgressMessage = null,
    JsonElement? Result = null,
    string? Error = null,
    JsonElement? Payload = null,
    long? FencingToken = null,
    DateTimeOffset? VisibleUntil = null,
    DateTimeOffset? EnqueuedAt = null,
    DateTimeOffset? FinishedAt = null,
    DateTimeOffset? StartedAt = null)
{
    public bool IsFinished => State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled;

    public static JobView Of(string resource, JobStatus s, Caller caller, bool withPayload) => new(
        resource, s.Id, s.State, caller.ClientIdOf(s.ClientId), s.Priority, s.Load, s.Attempts, s.MaxAttempts,
        s.State == JobState.Queued ? s.Position : null,
        s.WorkerId is { } w ? caller.ClientIdOf(w) : null,
        s.Progress, s.ProgressMessage, Parse(s.Result), s.Error,
        withPayload ? Parse(s.Payload) : null,
        s.FencingToken > 0 ? s.FencingToken : null, s.VisibleUntil, s.EnqueuedAt, s.FinishedAt, s.StartedAt);

    private static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}
