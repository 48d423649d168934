namespace OrleansQueue.Scheduling;

/// <summary>The answer to a release, renew, claim or cancel.</summary>
public enum LeaseOutcome : byte
{
    /// <summary>Done: the lease was released, renewed or claimed, or the ticket cancelled.</summary>
    Ok,
    /// <summary>No such live ticket or lease: never issued, or already released, expired, reclaimed or cancelled.</summary>
    NotFound,
    /// <summary>The id names a waiting ticket where a lease was expected.</summary>
    NotGranted,
}

/// <summary>The answer to a release, renew, claim or cancel, with the lease's new expiry when it lives on.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="ExpiresAt">After a renew or claim: when the lease now expires.</param>
public readonly record struct LeaseResult(LeaseOutcome Outcome, DateTimeOffset ExpiresAt = default)
{
    /// <summary>Whether the operation took effect.</summary>
    public bool IsOk => Outcome == LeaseOutcome.Ok;
}
