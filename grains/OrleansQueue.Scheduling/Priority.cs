namespace OrleansQueue.Scheduling;

/// <summary>
/// Strict priority levels of the waitlist. A lower number is served first: no request of a level is
/// granted while a request of a more urgent level is waiting.
/// </summary>
public enum Priority : byte
{
    /// <summary>Served before everything else.</summary>
    Critical = 0,
    /// <summary>Interactive, user-facing work.</summary>
    High = 1,
    /// <summary>The default level.</summary>
    Normal = 2,
    /// <summary>Work that can wait for normal traffic.</summary>
    Low = 3,
    /// <summary>Served only when nothing more urgent waits.</summary>
    Background = 4,
}

/// <summary>Helpers for <see cref="Priority"/>.</summary>
public static class PriorityLevels
{
    /// <summary>The number of priority levels (five).</summary>
    public const int Count = 5;

    /// <summary>Whether <paramref name="priority"/> is one of the five defined levels.</summary>
    public static bool IsDefined(Priority priority) => (byte)priority < Count;
}
