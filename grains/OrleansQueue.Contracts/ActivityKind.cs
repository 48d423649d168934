namespace OrleansQueue.Contracts;

/// <summary>What a recent event of a resource was (the dashboard's list). The numbers are part of the wire format: they never change.</summary>
public enum ActivityKind
{
    Granted = 0,
    TimedOut = 1,
    Rejected = 2,
    Expired = 3,
    Reclaimed = 4,
    DeadLettered = 5,
    Throttled = 6,
}
