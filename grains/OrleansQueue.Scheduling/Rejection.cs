namespace OrleansQueue.Scheduling;

/// <summary>A typed refusal: the reason, a message naming the field and the rule, and when a retry may succeed.</summary>
/// <param name="Reason">Why the request was refused.</param>
/// <param name="Message">A sentence for people: the resource, the field, the rule, the amounts.</param>
/// <param name="RetryAfter">When a retry could succeed, if that is known.</param>
/// <param name="Field">The argument at fault, for <see cref="RejectionReason.InvalidLoad"/> and <see cref="RejectionReason.InvalidRequest"/>.</param>
public readonly record struct Rejection(RejectionReason Reason, string Message, TimeSpan? RetryAfter = null, string? Field = null);
