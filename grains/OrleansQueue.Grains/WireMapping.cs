using System.Text.Json;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Grains;

/// <summary>
/// Between the scheduler's types and the wire's: the contracts own their enums (so that a client ships no scheduler), the
/// scheduler owns its own, and the grain maps one to the other here. Both sides pin the same numbers (a test holds them
/// equal), so each mapping is a checked conversion.
/// </summary>
internal static class WireMapping
{
    public static Contracts.Priority ToWire(this Scheduling.Priority priority) => (Contracts.Priority)(byte)priority;

    public static Scheduling.Priority ToScheduler(this Contracts.Priority priority) => (Scheduling.Priority)(byte)priority;

    public static Scheduling.AdaptiveMode ToScheduler(this Contracts.AdaptiveMode mode) => (Scheduling.AdaptiveMode)(int)mode;

    public static Contracts.JobState ToWire(this Scheduling.JobState state) => (Contracts.JobState)(byte)state;

    public static Contracts.RejectionReason ToWire(this Scheduling.RejectionReason reason) => (Contracts.RejectionReason)(int)reason;

    public static Contracts.AdaptiveMode ToWire(this Scheduling.AdaptiveMode mode) => (Contracts.AdaptiveMode)(int)mode;

    public static Contracts.ActivityKind ToWire(this Scheduling.ActivityKind kind) => (Contracts.ActivityKind)(int)kind;

    /// <summary>A refusal of the scheduler, as the problem the caller gets.</summary>
    public static Problem ToProblem(this Rejection rejection) =>
        Problem.Refused(rejection.Reason.ToWire(), rejection.Message, rejection.RetryAfter, rejection.Field);

    /// <summary>What an event of the scheduler tells the request's observers.</summary>
    public static RequestUpdate UpdateOf(string resource, ResourceEvent e) => new(
        resource, e.RequestId,
        e.Kind switch
        {
            ResourceEventKind.Granted => RequestPhase.Granted,
            ResourceEventKind.TimedOut => RequestPhase.TimedOut,
            ResourceEventKind.Rejected => RequestPhase.Rejected,
            ResourceEventKind.LeaseExpired => RequestPhase.Expired,
            ResourceEventKind.GrantReclaimed => RequestPhase.Reclaimed,
            ResourceEventKind.JobChanged or ResourceEventKind.JobOutput => RequestPhase.JobChanged,
            ResourceEventKind.JobAssigned => RequestPhase.JobAssigned,
            _ => RequestPhase.PollExpired,
        },
        e.ClientId, e.Load, e.Priority.ToWire(), FencingToken: e.FencingToken, ExpiresAt: e.ExpiresAt, Reason: e.Rejection?.Reason.ToWire(),
        Detail: e.Rejection?.Message, GrantedAt: e.Kind == ResourceEventKind.Granted ? e.At : null, RelatedId: e.JobId);

    /// <summary>Where a request stands, as the wire says it.</summary>
    public static RequestUpdate UpdateOf(string resource, long id, RequestStatus s) => new(
        resource, id,
        s.Kind switch
        {
            RequestStatusKind.Waiting => RequestPhase.Waiting,
            RequestStatusKind.Granted => RequestPhase.Granted,
            RequestStatusKind.Held => RequestPhase.Held,
            _ => RequestPhase.Unknown,
        },
        s.ClientId ?? "", s.Load, s.Priority.ToWire(), s.Position, s.FencingToken, s.ExpiresAt, GrantedAt: s.GrantedAt);

    /// <summary>A job as <paramref name="caller"/> sees it (its own names; the payload for a worker).</summary>
    public static JobView ViewOf(string resource, JobStatus s, Caller caller, bool withPayload) => new(
        resource, s.Id, s.State.ToWire(), caller.ClientIdOf(s.ClientId), s.Priority.ToWire(), s.Load, s.Attempts, s.MaxAttempts,
        s.State == Scheduling.JobState.Queued ? s.Position : null,
        s.WorkerId is { } w ? caller.ClientIdOf(w) : null,
        s.Progress, s.ProgressMessage, Parse(s.Result), s.Error,
        withPayload ? Parse(s.Payload) : null,
        s.FencingToken > 0 ? s.FencingToken : null, s.VisibleUntil, s.EnqueuedAt, s.FinishedAt, s.StartedAt, s.OutputLength);

    /// <summary>A stretch of a job's output as the wire says it.</summary>
    public static JobOutputView ViewOf(string resource, long jobId, JobOutputRead read) =>
        new(resource, jobId, read.Offset, read.Text, read.Next, read.Length, read.State.ToWire());

    /// <summary>A chunk a worker appended, as the job's stream carries it.</summary>
    public static JobOutputView ViewOf(string resource, JobOutputChunk chunk, JobStatus job)
    {
        long next = chunk.Offset + System.Text.Encoding.UTF8.GetByteCount(chunk.Text);
        return new(resource, chunk.JobId, chunk.Offset, chunk.Text, next, Math.Max(next, job.OutputLength), job.State.ToWire());
    }

    /// <summary>What a lease's holder reported of the upstream, as the scheduler takes it.</summary>
    public static UpstreamReport ToReport(this UpstreamBody body) =>
        new(body.Status, body.RetryAfterMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, body.Requests?.ToBudget(), body.Load?.ToBudget());

    private static UpstreamBudget ToBudget(this UpstreamBudgetBody body) =>
        new(body.Limit, body.Remaining, body.ResetMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);

    /// <summary>An adaptive resource's state, or nothing when it does not adapt.</summary>
    public static AdaptiveView? ViewOf(AdaptiveState? s) => s is null || s.Mode == Scheduling.AdaptiveMode.Off ? null : new(
        s.Mode.ToWire(), s.PausedUntil, s.PauseReason, Math.Round(s.WorkingFactor, 4), s.WorkingMaxConcurrent, s.WorkingRequestsPerWindow,
        s.WorkingLoadPerWindow, s.UpstreamRequestsLeft, s.UpstreamLoadLeft, s.UpstreamResetAt, s.Throttles);

    private static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}
