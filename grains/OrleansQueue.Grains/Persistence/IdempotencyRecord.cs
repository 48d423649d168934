namespace OrleansQueue.Grains.Persistence;

/// <summary>What a call with an idempotency key answered, kept so that a retry answers the same.</summary>
/// <param name="Key">The client's id and its key, as one string.</param>
/// <param name="RequestId">The ticket or lease the call created or released.</param>
/// <param name="Outcome">For an acquire: granted or queued. For a release: granted (meaning "released").</param>
public sealed record IdempotencyRecord(string Key, long RequestId, AcquireOutcome Outcome, long FencingToken, long ExpiresAt, long CreatedAt);
