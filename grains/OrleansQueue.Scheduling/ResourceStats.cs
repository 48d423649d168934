namespace OrleansQueue.Scheduling;

/// <summary>A snapshot of one resource's scheduler.</summary>
public sealed record ResourceStats
{
    /// <summary>The resource.</summary>
    public required string Name { get; init; }
    /// <summary>Requests waiting.</summary>
    public int Waiting { get; init; }
    /// <summary>Requests waiting at each level, indexed by <see cref="Priority"/> (aging counted at the level reached).</summary>
    public required IReadOnlyList<int> WaitingByPriority { get; init; }
    /// <summary>Requests waiting per client that has any.</summary>
    public required IReadOnlyDictionary<string, int> WaitingByClient { get; init; }
    /// <summary>Leases held or granted and not yet claimed.</summary>
    public int Leases { get; init; }
    /// <summary>The load those leases reserved.</summary>
    public long LeasedLoad { get; init; }
    /// <summary>Grants the request limit still allows in the current window; <c>null</c> without that limit.</summary>
    public long? RequestsLeftInWindow { get; init; }
    /// <summary>Load the load limit still allows in the current window; <c>null</c> without that limit.</summary>
    public long? LoadLeftInWindow { get; init; }
    /// <summary>The fencing token of the latest grant.</summary>
    public long LastFencingToken { get; init; }
    /// <summary>Grants in all.</summary>
    public long Granted { get; init; }
    /// <summary>Leases released by their holders (or by a cancel that raced a grant).</summary>
    public long Released { get; init; }
    /// <summary>Leases that expired without renewal.</summary>
    public long Expired { get; init; }
    /// <summary>Grants reclaimed because nobody claimed them.</summary>
    public long Reclaimed { get; init; }
    /// <summary>Waiting requests that reached their maximum wait.</summary>
    public long TimedOut { get; init; }
    /// <summary>Waiting requests cancelled.</summary>
    public long Cancelled { get; init; }
    /// <summary>Promotions by aging.</summary>
    public long Promoted { get; init; }
    /// <summary>Refusals by reason (timeouts of waiting requests are in <see cref="TimedOut"/>).</summary>
    public required IReadOnlyDictionary<RejectionReason, long> Rejected { get; init; }
    /// <summary>Median time from request to grant (within 12.5%).</summary>
    public TimeSpan WaitP50 { get; init; }
    /// <summary>90th percentile of time from request to grant.</summary>
    public TimeSpan WaitP90 { get; init; }
    /// <summary>99th percentile of time from request to grant.</summary>
    public TimeSpan WaitP99 { get; init; }
    /// <summary>Longest time from request to grant.</summary>
    public TimeSpan WaitMax { get; init; }
    /// <summary>Job-mode figures.</summary>
    public required JobStats Jobs { get; init; }
    /// <summary>Grants per second over the last five to ten seconds.</summary>
    public double GrantsPerSecond { get; init; }
    /// <summary>Where adaptation to the upstream stands: the working limits, any pause with its reason and end.</summary>
    public AdaptiveState? Adaptive { get; init; }
}
