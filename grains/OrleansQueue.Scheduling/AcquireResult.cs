namespace OrleansQueue.Scheduling;

/// <summary>The three answers to an acquire.</summary>
public enum AcquireOutcome : byte
{
    /// <summary>The request holds a lease now.</summary>
    Granted,
    /// <summary>The request waits; a <see cref="ResourceEventKind.Granted"/> event follows when it is its turn.</summary>
    Queued,
    /// <summary>The request was refused; see <see cref="AcquireResult.Rejection"/>.</summary>
    Rejected,
}

/// <summary>The answer to <see cref="ResourceScheduler.Acquire"/>. A value type: granting allocates nothing.</summary>
public readonly struct AcquireResult
{
    private readonly Rejection _rejection;

    private AcquireResult(AcquireOutcome outcome, long requestId, long fencingToken, DateTimeOffset expiresAt, int position, Rejection rejection)
    {
        Outcome = outcome;
        RequestId = requestId;
        FencingToken = fencingToken;
        ExpiresAt = expiresAt;
        Position = position;
        _rejection = rejection;
    }

    /// <summary>Granted, queued or rejected.</summary>
    public AcquireOutcome Outcome { get; }

    /// <summary>The id of the ticket and, once granted, of the lease (the same id). Zero when rejected.</summary>
    public long RequestId { get; }

    /// <summary>When granted: the lease's fencing token, strictly increasing per resource in grant order.</summary>
    public long FencingToken { get; }

    /// <summary>When granted: when the lease expires unless renewed.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>When queued: at most this many requests are served before it (itself included), as things stand.</summary>
    public int Position { get; }

    /// <summary>When rejected: why.</summary>
    public Rejection Rejection => Outcome == AcquireOutcome.Rejected
        ? _rejection
        : throw new InvalidOperationException($"An acquire that was {Outcome} has no rejection.");

    internal static AcquireResult Granted(long id, long fencingToken, DateTimeOffset expiresAt) =>
        new(AcquireOutcome.Granted, id, fencingToken, expiresAt, 0, default);

    internal static AcquireResult Queued(long id, int position) =>
        new(AcquireOutcome.Queued, id, 0, default, position, default);

    internal static AcquireResult Rejected(Rejection rejection) =>
        new(AcquireOutcome.Rejected, 0, 0, default, 0, rejection);

    /// <inheritdoc />
    public override string ToString() => Outcome switch
    {
        AcquireOutcome.Granted => $"Granted #{RequestId} (fencing token {FencingToken}, expires {ExpiresAt:O})",
        AcquireOutcome.Queued => $"Queued #{RequestId} at position {Position}",
        _ => $"Rejected: {_rejection.Reason}: {_rejection.Message}",
    };
}
