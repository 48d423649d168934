namespace OrleansQueue.Scheduling;

/// <summary>One broken policy rule.</summary>
/// <param name="Field">The policy property at fault.</param>
/// <param name="Rule">What the rule is and what the value was.</param>
public sealed record PolicyError(string Field, string Rule)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field} {Rule}";
}
