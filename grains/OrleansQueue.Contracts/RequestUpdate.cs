namespace OrleansQueue.Contracts;

/// <summary>Where a request is in its life, as callers see it.</summary>
[GenerateSerializer, Alias("OrleansQueue.RequestPhase")]
public enum RequestPhase
{
    /// <summary>In the waitlist.</summary>
    Waiting,
    /// <summary>Granted while waiting; to be claimed within the claim window.</summary>
    Granted,
    /// <summary>A lease held by its caller.</summary>
    Held,
    /// <summary>Released by its holder.</summary>
    Released,
    /// <summary>Withdrawn by its caller while waiting.</summary>
    Cancelled,
    /// <summary>Not granted within its maximum wait.</summary>
    TimedOut,
    /// <summary>Refused after it was accepted (resource deleted, policy changed).</summary>
    Rejected,
    /// <summary>A lease not renewed within its TTL.</summary>
    Expired,
    /// <summary>A grant not claimed within the claim window.</summary>
    Reclaimed,
    /// <summary>No such request, or ended too long ago to remember.</summary>
    Unknown,
    /// <summary>A job changed (state or progress): read it again.</summary>
    JobChanged,
    /// <summary>A worker's poll was handed job <see cref="RequestUpdate.RelatedId"/>.</summary>
    JobAssigned,
    /// <summary>A worker's poll ended with no job.</summary>
    PollExpired,
    /// <summary>The resource's grain left this silo (it moved, or the silo stops): subscribe again wherever it now lives.</summary>
    Moved,
}

/// <summary>A request's state, or a change of it, as pushed to observers and answered to polls.</summary>
[GenerateSerializer, Immutable, Alias("OrleansQueue.RequestUpdate")]
public sealed record RequestUpdate(
    [property: Id(0)] string Resource,
    [property: Id(1)] long Id,
    [property: Id(2)] RequestPhase Phase,
    [property: Id(3)] string ClientId,
    [property: Id(4)] long Load = 0,
    [property: Id(5)] Priority Priority = Priority.Normal,
    [property: Id(6)] int Position = 0,
    [property: Id(7)] long FencingToken = 0,
    [property: Id(8)] DateTimeOffset? ExpiresAt = null,
    [property: Id(9)] RejectionReason? Reason = null,
    [property: Id(10)] string? Detail = null,
    [property: Id(11)] DateTimeOffset? GrantedAt = null,
    [property: Id(12)] long RelatedId = 0)
{
    /// <summary>Whether nothing more will happen to the request (a job's observers leave when they see it finished).</summary>
    public bool IsFinal => Phase is not (RequestPhase.Waiting or RequestPhase.Granted or RequestPhase.Held or RequestPhase.JobChanged);
}
