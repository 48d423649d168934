namespace OrleansQueue.Silo.Gateway;

/// <summary>A worker asks for the next job, waiting up to <see cref="WaitMs"/> for one.</summary>
public sealed record TakeBody(string? WorkerId = null, long? WaitMs = null);
