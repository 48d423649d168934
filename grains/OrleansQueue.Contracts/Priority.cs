namespace OrleansQueue.Contracts;

/// <summary>How urgent a request is: strict levels, the lower served first. The numbers are part of the wire format (and
/// may be sent instead of the names): they never change.</summary>
public enum Priority : byte
{
    /// <summary>Served before everything else.</summary>
    Critical = 0,
    High = 1,
    /// <summary>The default.</summary>
    Normal = 2,
    Low = 3,
    /// <summary>Served only when nothing else waits.</summary>
    Background = 4,
}
