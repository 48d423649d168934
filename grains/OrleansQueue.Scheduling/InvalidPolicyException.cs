namespace OrleansQueue.Scheduling;

/// <summary>Thrown when a <see cref="ResourcePolicy"/> breaks one or more rules.</summary>
public sealed class InvalidPolicyException(IReadOnlyList<PolicyError> errors)
    : ArgumentException("Invalid resource policy: " + string.Join(" ", errors))
{
    /// <summary>Every broken rule.</summary>
    public IReadOnlyList<PolicyError> Errors { get; } = errors;
}
