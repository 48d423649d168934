using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// Where resources and their grains' state live. A commit is one atomic write; the runtime announces nothing
/// of a turn before its commit returns.
/// </summary>
/// <remarks>
/// Ownership: a silo claims a resource before it runs its grain, which makes it the owner under a new epoch. Every
/// commit names the epoch it was made under and is refused once a later claim has happened, so a stale or paused
/// owner can never write (and so never announce) a grant. The store, not the silos, decides who won.
/// </remarks>
internal interface IGrainStore : IAsyncDisposable
{
    /// <summary>Creates or migrates the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Every resource, by name.</summary>
    Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken);

    /// <summary>One resource, or <c>null</c>.</summary>
    Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken);

    /// <summary>Creates a resource or replaces its definition; returns whether it was created.</summary>
    Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken);

    /// <summary>Deletes a resource with all its state; returns whether it existed.</summary>
    Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Makes <paramref name="owner"/> the resource's owner under a new epoch, and reads its state as of that moment (every
    /// commit made under an earlier epoch is in it; none can follow). <c>null</c> when the resource does not exist.
    /// </summary>
    /// <remarks>The snapshot's <see cref="ResourceSnapshot.SavedAt"/> is the last moment the resource is known to have run:
    /// the later of its last commit and its previous owner's last heartbeat (<see cref="HeartbeatAsync"/>), or 0 when no
    /// owner held it (it gave its claim up idle). The scheduler does not count the time since then against waits and leases.</remarks>
    Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken);

    /// <summary>Records that silo <paramref name="owner"/> was alive (and so were the resources it owns) at
    /// <paramref name="aliveAt"/>, UTC ticks on the schedulers' clock. The silo calls it every second while it runs.</summary>
    Task HeartbeatAsync(string owner, long aliveAt, CancellationToken cancellationToken);

    /// <summary>Whether <see cref="CommitAsync"/> refuses a batch whose predecessor (by <c>sequence</c>) did not land, so that a
    /// grain may hand over its next batch before the one before it returned (a failure can then never leave a later batch
    /// applied over a state that never was). A store that does not can take one batch per resource at a time.</summary>
    bool PipelinesCommits { get; }

    /// <summary>Writes one batch of a grain's changes atomically, if <paramref name="epoch"/> is still the resource's epoch.
    /// Changes for a deleted resource are dropped.</summary>
    /// <param name="sequence">The batch's number: <see cref="ClaimedGrain.Sequence"/> + 1 for the first batch after a claim, one
    /// more for each next. A store that <see cref="PipelinesCommits"/> writes it only right after batch <c>sequence - 1</c>.</param>
    /// <exception cref="OwnershipLostException">Another claim came after <paramref name="epoch"/>; nothing was written.</exception>
    /// <exception cref="CommitOutOfOrderException">The batch before it did not land; nothing was written.</exception>
    Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken cancellationToken);

    /// <summary>Proves that <paramref name="epoch"/> is still the resource's: no later claim has happened and the resource
    /// still exists. An activation calls it before it answers from memory alone (a call that changed nothing), so that an
    /// activation another one has replaced never answers from what it remembers. It reads; it writes nothing.</summary>
    /// <exception cref="OwnershipLostException">A later claim came, or the resource was deleted.</exception>
    Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken);

    /// <summary>Gives up ownership (the grain went idle or moved) if <paramref name="epoch"/> is still current.</summary>
    Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken);

    /// <summary>The resources some silo owns now (their grains were live when last heard of), with their owners.</summary>
    Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken);

    /// <summary>Proves the store answers (for health checks).</summary>
    Task PingAsync(CancellationToken cancellationToken);
}

/// <summary>A resource's state as claimed, the epoch its owner must commit under, and the number of the last batch in it
/// (the owner's first batch is numbered one more).</summary>
internal sealed record ClaimedGrain(ResourceSnapshot Snapshot, long Epoch, long Sequence)
{
    /// <summary>The snapshot's <see cref="ResourceSnapshot.SavedAt"/>: the later of the resource's last commit and its previous
    /// owner's last heartbeat (0 when that owner never beat), or 0 when no owner held it (<paramref name="previousOwnerAlive"/> -1).</summary>
    public static long LastAlive(long savedAt, long previousOwnerAlive) => previousOwnerAlive < 0 ? 0 : Math.Max(savedAt, previousOwnerAlive);
}

/// <summary>A later claim took the resource: the write under the old epoch was refused and nothing of it took effect.</summary>
internal sealed class OwnershipLostException(string resource, long epoch)
    : Exception($"Resource \"{resource}\" was claimed by another owner after epoch {epoch}; the write was refused.")
{
    public string Resource { get; } = resource;
    public long Epoch { get; } = epoch;
}

/// <summary>A batch came to the store before the batch numbered just before it had landed: nothing of it was written.</summary>
internal sealed class CommitOutOfOrderException(string resource, long epoch, long sequence)
    : Exception($"Batch {sequence} of resource \"{resource}\" (epoch {epoch}) was refused: the batch before it did not land.");
