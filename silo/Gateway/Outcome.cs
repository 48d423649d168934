namespace OrleansQueue.Silo.Gateway;

/// <summary>A value, or the problem that stopped it: what every gateway operation answers.</summary>
public readonly record struct Outcome<T>(T? Value, Problem? Problem, int Status = 200)
{
    public static implicit operator Outcome<T>(Problem problem) => new(default, problem, problem.Status);
}
