namespace OrleansQueue.Scheduling.Persistence;

/// <summary>What a call with an idempotency key answered, kept so that a retry answers the same, even after the ticket or
/// lease it names has ended and been forgotten (a restart forgets every ended request).</summary>
/// <param name="Key">The scope (the client's id, or the lease released) and the caller's key, as one string.</param>
/// <param name="RequestId">The ticket or lease the call created or released.</param>
/// <param name="Outcome">For an acquire: granted or queued. For a release: granted (meaning "released").</param>
/// <param name="FencingToken">The lease's fencing token, once granted.</param>
/// <param name="ExpiresAt">For an acquire granted at once, and for a release: when the lease expired unless renewed.</param>
/// <param name="CreatedAt">When the call was answered: the key is kept for a day from then.</param>
/// <param name="ClientId">The client whose request it is (tenant included): a retry by anyone else is told nothing.</param>
/// <param name="Load">The load the request asked for.</param>
/// <param name="Priority">The level it was granted at.</param>
/// <param name="GrantedAt">When it was granted (ticks), or 0.</param>
public sealed record IdempotencyRecord(string Key, long RequestId, AcquireOutcome Outcome, long FencingToken, long ExpiresAt, long CreatedAt,
    string ClientId = "", long Load = 0, Priority Priority = Priority.Normal, long GrantedAt = 0);
