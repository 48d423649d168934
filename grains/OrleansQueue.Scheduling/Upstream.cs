namespace OrleansQueue.Scheduling;

/// <summary>How a resource adapts to what its upstream says (<see cref="ResourcePolicy.Adaptive"/>).</summary>
public enum AdaptiveMode
{
    /// <summary>The configured limits are the truth; reports are ignored.</summary>
    Off,
    /// <summary>A 429 or retry-after pauses grants until the upstream's time; until the upstream's reset, grants stay within
    /// what it says remains, less what is in flight.</summary>
    Headers,
    /// <summary>A 429 or retry-after pauses grants until the upstream's time; each 429 multiplies the working limits by
    /// <see cref="ResourcePolicy.AimdDecrease"/>, and each window without one adds back <see cref="ResourcePolicy.AimdIncrease"/>
    /// of the configured limits.</summary>
    Aimd,
}

/// <summary>What the upstream said about one dimension of its budget: each figure is optional and only a sane one is kept.</summary>
/// <param name="Limit">Its limit for the dimension.</param>
/// <param name="Remaining">What it says remains until <paramref name="ResetIn"/>.</param>
/// <param name="ResetIn">How long until the upstream's budget resets, from the moment of the report.</param>
public readonly record struct UpstreamBudget(long? Limit = null, long? Remaining = null, TimeSpan? ResetIn = null);

/// <summary>What the upstream answered a caller holding (or releasing) a lease, normalised by the SDK.</summary>
/// <param name="Status">The upstream's HTTP status (429 and 503 matter; others only carry budget figures).</param>
/// <param name="RetryAfter">The upstream's retry-after, as a duration from the report.</param>
/// <param name="Requests">Its request budget.</param>
/// <param name="Load">Its load (token) budget.</param>
public readonly record struct UpstreamReport(int? Status = null, TimeSpan? RetryAfter = null, UpstreamBudget? Requests = null, UpstreamBudget? Load = null)
{
    /// <summary>Whether the upstream refused for its rate (429), or asked to wait.</summary>
    public bool IsThrottle => Status == 429 || RetryAfter is not null;
}

/// <summary>Where a resource's adaptation stands.</summary>
/// <param name="PausedUntil">No grant before this (the upstream's retry-after or reset); null when not paused.</param>
/// <param name="PauseReason">Why it paused.</param>
/// <param name="WorkingFactor">With aimd: the share of the configured limits in force (1 when not reduced).</param>
/// <param name="UpstreamRequestsLeft">With headers: requests the upstream still allows until <paramref name="UpstreamResetAt"/>.</param>
/// <param name="UpstreamLoadLeft">With headers: load the upstream still allows until its reset.</param>
public sealed record AdaptiveState(
    AdaptiveMode Mode,
    DateTimeOffset? PausedUntil,
    string? PauseReason,
    double WorkingFactor,
    int? WorkingMaxConcurrent,
    long? WorkingRequestsPerWindow,
    long? WorkingLoadPerWindow,
    long? UpstreamRequestsLeft,
    long? UpstreamLoadLeft,
    DateTimeOffset? UpstreamResetAt,
    long Throttles);
