namespace OrleansQueue.Scheduling;

/// <summary>Why a request was not granted. Each reason is a distinct, typed outcome.</summary>
public enum RejectionReason
{
    /// <summary>The resource's waitlist holds <see cref="ResourcePolicy.MaxQueueLength"/> requests already.</summary>
    QueueFull,
    /// <summary>The client already has <see cref="ResourcePolicy.MaxQueuedPerClient"/> requests waiting.</summary>
    ClientQuotaExceeded,
    /// <summary>The request was not granted within its maximum wait (or, with a zero wait, not at once).</summary>
    TimedOut,
    /// <summary>The load is not a positive number, or can never fit the resource's policy.</summary>
    InvalidLoad,
    /// <summary>Another argument broke a rule (client id, priority, maximum wait).</summary>
    InvalidRequest,
    /// <summary>No resource of that name exists.</summary>
    UnknownResource,
    /// <summary>The resource was deleted while the request waited.</summary>
    ResourceDeleted,
    /// <summary>The client's tenant already has <see cref="ResourcePolicy.MaxQueuedPerTenant"/> requests waiting.</summary>
    TenantQuotaExceeded,
}
