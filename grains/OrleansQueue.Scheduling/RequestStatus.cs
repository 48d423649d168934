namespace OrleansQueue.Scheduling;

/// <summary>Where a request stands.</summary>
public enum RequestStatusKind : byte
{
    /// <summary>No live request of that id: never issued, or ended (released, expired, timed out, cancelled).</summary>
    Unknown,
    /// <summary>In the waitlist.</summary>
    Waiting,
    /// <summary>Granted, and not yet claimed by its holder.</summary>
    Granted,
    /// <summary>A lease held by its holder.</summary>
    Held,
}

/// <summary>A request's standing, as polled.</summary>
/// <param name="Kind">Waiting, granted, held or unknown.</param>
/// <param name="Priority">The level it waits at now (aging may have raised it) or was granted at.</param>
/// <param name="Position">When waiting: at most this many requests are served before it, itself included.</param>
/// <param name="FencingToken">When granted or held: the lease's fencing token.</param>
/// <param name="ExpiresAt">When waiting: its deadline; when granted: the end of its claim window; when held: its expiry.</param>
/// <param name="ClientId">The client that made it (hosts check ownership with it).</param>
/// <param name="Load">The load it asked for.</param>
/// <param name="GrantedAt">When granted or held: when the grant was made, on the resource's clock.</param>
public readonly record struct RequestStatus(
    RequestStatusKind Kind,
    Priority Priority = Priority.Normal,
    int Position = 0,
    long FencingToken = 0,
    DateTimeOffset? ExpiresAt = null,
    string? ClientId = null,
    long Load = 0,
    DateTimeOffset? GrantedAt = null);
