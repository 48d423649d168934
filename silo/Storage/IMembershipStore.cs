namespace OrleansQueue.Silo.Storage;

/// <summary>
/// Cluster membership kept by a store that several silos share: each silo heartbeats its row, and liveness is judged on
/// the store's clock, so silos never compare their own clocks.
/// </summary>
public interface IMembershipStore
{
    /// <summary>Records that <paramref name="silo"/> is alive now (store clock) and answers the silos that have heartbeated
    /// within <paramref name="deadAfter"/>, this one included, ordered by id.</summary>
    Task<IReadOnlyList<SiloEntry>> HeartbeatAsync(SiloEntry silo, TimeSpan deadAfter, CancellationToken cancellationToken);

    /// <summary>Removes <paramref name="siloId"/> from the cluster at once (graceful shutdown), instead of waiting for it to be judged dead.</summary>
    Task LeaveAsync(string siloId, CancellationToken cancellationToken);
}

/// <summary>A silo in the cluster: its unique id (one per process start) and the address other silos forward to.</summary>
public sealed record SiloEntry(string Id, string Address);
