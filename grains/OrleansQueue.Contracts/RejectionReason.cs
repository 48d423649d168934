namespace OrleansQueue.Contracts;

/// <summary>Why a request was refused after it was accepted (or, in a problem, before). The numbers are part of the wire
/// format: they never change.</summary>
public enum RejectionReason
{
    QueueFull = 0,
    ClientQuotaExceeded = 1,
    TimedOut = 2,
    InvalidLoad = 3,
    InvalidRequest = 4,
    UnknownResource = 5,
    ResourceDeleted = 6,
    TenantQuotaExceeded = 7,
}
