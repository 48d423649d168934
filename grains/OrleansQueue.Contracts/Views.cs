namespace OrleansQueue.Contracts;

/// <summary>Asks for a slot. Every field is optional.</summary>
/// <param name="ClientId">Who asks; fairness and quotas are per client. Default "default".</param>
/// <param name="Load">Tokens to reserve, at least 1. Default 1.</param>
/// <param name="Priority">critical, high, normal, low or background (or 0 to 4). Default normal.</param>
/// <param name="MaxWaitMs">How long it may wait; 0 refuses waiting. Default: the resource's DefaultMaxWait.</param>
/// <param name="IdempotencyKey">A retry with the same client and key answers the same ticket or lease.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.AcquireBody")]
public sealed record AcquireBody([property: Id(0)] string? ClientId = null, [property: Id(1)] long? Load = null, [property: Id(2)] Priority? Priority = null, [property: Id(3)] long? MaxWaitMs = null, [property: Id(4)] string? IdempotencyKey = null);

/// <summary>Releases a lease.</summary>
/// <param name="ActualLoad">The load really used; the window is corrected by the difference.</param>
/// <param name="IdempotencyKey">A retry with the same key answers the same.</param>
/// <param name="Upstream">What the upstream answered the holder's call (an adaptive resource learns from it).</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.ReleaseBody")]
public sealed record ReleaseBody([property: Id(0)] long? ActualLoad = null, [property: Id(1)] string? IdempotencyKey = null, [property: Id(2)] UpstreamBody? Upstream = null);

/// <summary>What the upstream answered a call made under a lease, normalised by the SDK. Every field is optional.</summary>
/// <param name="Status">The upstream's HTTP status: 429 (and a retry-after) pause an adaptive resource's grants.</param>
/// <param name="RetryAfterMs">The upstream's retry-after, in milliseconds from now.</param>
/// <param name="Requests">Its request budget: limit, remaining, and the time to its reset.</param>
/// <param name="Load">Its load (token) budget.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.UpstreamBody")]
public sealed record UpstreamBody(
    [property: Id(0)] int? Status = null,
    [property: Id(1)] long? RetryAfterMs = null,
    [property: Id(2)] UpstreamBudgetBody? Requests = null,
    [property: Id(3)] UpstreamBudgetBody? Load = null);

/// <summary>One dimension of the upstream's budget. -1 stands for "not said" (Azure OpenAI sends it) and is ignored.</summary>
/// <param name="ResetMs">Milliseconds from now until the upstream's budget resets.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.UpstreamBudgetBody")]
public sealed record UpstreamBudgetBody([property: Id(0)] long? Limit = null, [property: Id(1)] long? Remaining = null, [property: Id(2)] long? ResetMs = null);

/// <summary>A ticket or lease as the caller sees it.</summary>
/// <param name="State">waiting, granted (pushed, to be claimed), held, released, cancelled, timedOut, rejected, expired, reclaimed, unknown.</param>
/// <param name="Position">While waiting: at most this many requests are served before it, itself included.</param>
/// <param name="FencingToken">Once granted: strictly increasing per resource; pass it downstream to fence out stale holders.</param>
/// <param name="ExpiresAt">Waiting: its deadline. Granted: the end of its claim window. Held: when it expires unless renewed.</param>
/// <param name="Reason">When refused after acceptance: why (e.g. timedOut, resourceDeleted).</param>
/// <param name="GrantedAt">Once granted: when, on the silo's clock.</param>
/// <param name="Push">On an acquire over the WebSocket: whether this request's updates will be pushed (false: the resource is polling-only).</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.RequestView")]
public sealed record RequestView(
    [property: Id(0)] string Resource,
    [property: Id(1)] long Id,
    [property: Id(2)] RequestPhase State,
    [property: Id(3)] string ClientId,
    [property: Id(4)] long Load,
    [property: Id(5)] Priority Priority,
    [property: Id(6)] int? Position = null,
    [property: Id(7)] long? FencingToken = null,
    [property: Id(8)] DateTimeOffset? ExpiresAt = null,
    [property: Id(9)] RejectionReason? Reason = null,
    [property: Id(10)] string? Detail = null,
    [property: Id(11)] bool? Push = null,
    [property: Id(12)] DateTimeOffset? GrantedAt = null)
{
    public static RequestView Of(RequestUpdate u, Caller caller) => new(
        u.Resource, u.Id, u.Phase, caller.ClientIdOf(u.ClientId), u.Load, u.Priority,
        u.Phase == RequestPhase.Waiting ? u.Position : null,
        u.FencingToken > 0 ? u.FencingToken : null,
        u.ExpiresAt,
        u.Reason,
        u.Detail,
        GrantedAt: u.GrantedAt);
}

/// <summary>A snapshot of a resource's scheduler.</summary>
/// <param name="Silo">The silo the resource's grain is active on.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.StatsView")]
public sealed record StatsView(
    [property: Id(0)] string Resource,
    [property: Id(1)] int Waiting,
    [property: Id(2)] IReadOnlyDictionary<string, int> WaitingByPriority,
    [property: Id(3)] IReadOnlyDictionary<string, int> WaitingByClient,
    [property: Id(4)] int Leases,
    [property: Id(5)] long LeasedLoad,
    [property: Id(6)] long? RequestsLeftInWindow,
    [property: Id(7)] long? LoadLeftInWindow,
    [property: Id(8)] long LastFencingToken,
    [property: Id(9)] long Granted,
    [property: Id(10)] long Released,
    [property: Id(11)] long Expired,
    [property: Id(12)] long Reclaimed,
    [property: Id(13)] long TimedOut,
    [property: Id(14)] long Cancelled,
    [property: Id(15)] IReadOnlyDictionary<string, long> Rejected,
    [property: Id(16)] double WaitP50Ms,
    [property: Id(17)] double WaitP90Ms,
    [property: Id(18)] double WaitP99Ms,
    [property: Id(19)] double WaitMaxMs,
    [property: Id(20)] JobsView Jobs,
    [property: Id(21)] string? Silo = null,
    [property: Id(22)] double GrantsPerSecond = 0,
    [property: Id(23)] AdaptiveView? Adaptive = null);

/// <summary>Where an adaptive resource stands: the limits in force beside the configured ones, and any pause with its reason
/// and end.</summary>
/// <param name="WorkingFactor">With aimd: the share of the configured limits in force.</param>
/// <param name="UpstreamRequestsLeft">With headers: requests the upstream still allows until <paramref name="UpstreamResetAt"/>.</param>
/// <param name="Throttles">429s and retry-afters reported since the grain's activation.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.AdaptiveView")]
public sealed record AdaptiveView(
    [property: Id(0)] AdaptiveMode Mode,
    [property: Id(1)] DateTimeOffset? PausedUntil,
    [property: Id(2)] string? PauseReason,
    [property: Id(3)] double WorkingFactor,
    [property: Id(4)] int? WorkingMaxConcurrent,
    [property: Id(5)] long? WorkingRequestsPerWindow,
    [property: Id(6)] long? WorkingLoadPerWindow,
    [property: Id(7)] long? UpstreamRequestsLeft,
    [property: Id(8)] long? UpstreamLoadLeft,
    [property: Id(9)] DateTimeOffset? UpstreamResetAt,
    [property: Id(10)] long Throttles);

/// <summary>Everything a dashboard shows of one resource: its figures, leases, recent activity, timeline and jobs. A tenant sees
/// only its own clients' leases, events and jobs; the figures and the timeline are the resource's totals.</summary>
/// <param name="TimelineBucketMs">The length of each slice of <see cref="Timeline"/>.</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.ResourceDetailView")]
public sealed record ResourceDetailView(
    [property: Id(0)] StatsView Stats,
    [property: Id(1)] IReadOnlyList<LeaseView> Leases,
    [property: Id(2)] IReadOnlyList<ActivityView> Events,
    [property: Id(3)] IReadOnlyList<TimelineView> Timeline,
    [property: Id(4)] long TimelineBucketMs,
    [property: Id(5)] IReadOnlyList<JobView> Jobs);

/// <summary>A lease held (or granted and not yet claimed) on a resource.</summary>
/// <param name="ExpiresAt">When it expires unless renewed (claimed), or is reclaimed unless claimed (not claimed).</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.LeaseView")]
public sealed record LeaseView(
    [property: Id(0)] long Id,
    [property: Id(1)] string ClientId,
    [property: Id(2)] long Load,
    [property: Id(3)] Priority Priority,
    [property: Id(4)] long FencingToken,
    [property: Id(5)] DateTimeOffset GrantedAt,
    [property: Id(6)] DateTimeOffset ExpiresAt,
    [property: Id(7)] bool Claimed,
    [property: Id(8)] bool IsJob);

/// <summary>One recent event of a resource: granted, timedOut, rejected, expired, reclaimed or deadLettered.</summary>
/// <param name="RequestId">The request or job (0 for a request refused before it had an id).</param>
[GenerateSerializer, Immutable, Alias("OrleansQueue.ActivityView")]
public sealed record ActivityView(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] ActivityKind Kind,
    [property: Id(2)] long RequestId,
    [property: Id(3)] string ClientId,
    [property: Id(4)] long Load,
    [property: Id(5)] Priority Priority,
    [property: Id(6)] RejectionReason? Reason = null,
    [property: Id(7)] string? Detail = null);

/// <summary>What a resource did in one slice of time.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.TimelineView")]
public sealed record TimelineView(
    [property: Id(0)] DateTimeOffset Start,
    [property: Id(1)] long Granted,
    [property: Id(2)] long Rejected,
    [property: Id(3)] long Expired);

/// <summary>Job-mode figures of a resource.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.JobsView")]
public sealed record JobsView(
    [property: Id(0)] IReadOnlyDictionary<string, int> ByState,
    [property: Id(1)] IReadOnlyDictionary<string, int> QueuedByPriority,
    [property: Id(2)] IReadOnlyDictionary<string, int> QueuedByClient,
    [property: Id(3)] int WaitingWorkers,
    [property: Id(4)] long Enqueued,
    [property: Id(5)] long Completed,
    [property: Id(6)] long Failed,
    [property: Id(7)] long Retried,
    [property: Id(8)] long Recovered,
    [property: Id(9)] long DeadLettered,
    [property: Id(10)] double QueueTimeP50Ms,
    [property: Id(11)] double QueueTimeP99Ms,
    [property: Id(12)] double RunTimeP50Ms,
    [property: Id(13)] double RunTimeP99Ms);
