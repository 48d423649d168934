using OrleansQueue.Grains;
using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

/// <summary>Asks for a slot. Every field is optional.</summary>
/// <param name="ClientId">Who asks; fairness and quotas are per client. Default "default".</param>
/// <param name="Load">Tokens to reserve, at least 1. Default 1.</param>
/// <param name="Priority">critical, high, normal, low or background (or 0 to 4). Default normal.</param>
/// <param name="MaxWaitMs">How long it may wait; 0 refuses waiting. Default: the resource's DefaultMaxWait.</param>
/// <param name="IdempotencyKey">A retry with the same client and key answers the same ticket or lease.</param>
public sealed record AcquireBody(string? ClientId = null, long? Load = null, Priority? Priority = null, long? MaxWaitMs = null, string? IdempotencyKey = null);

/// <summary>Releases a lease.</summary>
/// <param name="ActualLoad">The load really used; the window is corrected by the difference.</param>
/// <param name="IdempotencyKey">A retry with the same key answers the same.</param>
public sealed record ReleaseBody(long? ActualLoad = null, string? IdempotencyKey = null);

/// <summary>A ticket or lease as the caller sees it.</summary>
/// <param name="State">waiting, granted (pushed, to be claimed), held, released, cancelled, timedOut, rejected, expired, reclaimed, unknown.</param>
/// <param name="Position">While waiting: at most this many requests are served before it, itself included.</param>
/// <param name="FencingToken">Once granted: strictly increasing per resource; pass it downstream to fence out stale holders.</param>
/// <param name="ExpiresAt">Waiting: its deadline. Granted: the end of its claim window. Held: when it expires unless renewed.</param>
/// <param name="Reason">When refused after acceptance: why (e.g. timedOut, resourceDeleted).</param>
/// <param name="GrantedAt">Once granted: when, on the silo's clock.</param>
/// <param name="Push">On an acquire over the WebSocket: whether this request's updates will be pushed (false: the resource is polling-only).</param>
public sealed record RequestView(
    string Resource,
    long Id,
    RequestPhase State,
    string ClientId,
    long Load,
    Priority Priority,
    int? Position = null,
    long? FencingToken = null,
    DateTimeOffset? ExpiresAt = null,
    RejectionReason? Reason = null,
    string? Detail = null,
    bool? Push = null,
    DateTimeOffset? GrantedAt = null)
{
    public static RequestView Of(RequestUpdate u, Caller caller) => new(
        u.Resource, u.Id, u.Phase, caller.ClientIdOf(u.ClientId), u.Load, u.Priority,
        u.Phase == RequestPhase.Waiting ? u.Position : null,
        u.FencingToken > 0 ? u.FencingToken : null,
        u.ExpiresAt,
        u.Rejection?.Reason,
        u.Rejection?.Message,
        GrantedAt: u.GrantedAt);
}

/// <summary>A resource's definition. Durations are milliseconds; omitted fields take their defaults; limits omitted are unlimited.</summary>
public sealed record ResourceBody(
    int? MaxConcurrent = null,
    long? RequestsPerWindow = null,
    long? LoadPerWindow = null,
    long? WindowMs = null,
    int? MaxQueueLength = null,
    int? MaxQueuedPerClient = null,
    long? DefaultMaxWaitMs = null,
    long? MaxWaitMs = null,
    long? LeaseTtlMs = null,
    long? ClaimWindowMs = null,
    long? AgingIntervalMs = null,
    bool? PushEnabled = null,
    long? JobVisibilityTimeoutMs = null,
    int? JobMaxAttempts = null,
    long? JobRetryDelayMs = null,
    long? JobRetentionMs = null);

/// <summary>A resource: its name, whether it pushes, and its policy.</summary>
public sealed record ResourceView(string Name, bool PushEnabled, ResourceBody Policy);

/// <summary>A snapshot of a resource's scheduler.</summary>
public sealed record StatsView(
    string Resource,
    int Waiting,
    IReadOnlyDictionary<string, int> WaitingByPriority,
    IReadOnlyDictionary<string, int> WaitingByClient,
    int Leases,
    long LeasedLoad,
    long? RequestsLeftInWindow,
    long? LoadLeftInWindow,
    long LastFencingToken,
    long Granted,
    long Released,
    long Expired,
    long Reclaimed,
    long TimedOut,
    long Cancelled,
    IReadOnlyDictionary<string, long> Rejected,
    double WaitP50Ms,
    double WaitP90Ms,
    double WaitP99Ms,
    double WaitMaxMs,
    JobsView Jobs);

/// <summary>Job-mode figures of a resource.</summary>
public sealed record JobsView(
    IReadOnlyDictionary<string, int> ByState,
    IReadOnlyDictionary<string, int> QueuedByPriority,
    IReadOnlyDictionary<string, int> QueuedByClient,
    int WaitingWorkers,
    long Enqueued,
    long Completed,
    long Failed,
    long Retried,
    long Recovered,
    long DeadLettered,
    double QueueTimeP50Ms,
    double QueueTimeP99Ms,
    double RunTimeP50Ms,
    double RunTimeP99Ms);
