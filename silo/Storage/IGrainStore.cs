using OrleansQueue.Grains.Persistence;

namespace OrleansQueue.Silo.Storage;

/// <summary>
/// Where resources and their grains' state live. A commit is one atomic write; the runtime announces nothing
/// of a turn before its commit returns.
/// </summary>
public interface IGrainStore : IAsyncDisposable
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

    /// <summary>The stored state of a resource's grain, or <c>null</c> when the resource does not exist.</summary>
    Task<GrainSnapshot?> LoadAsync(string name, CancellationToken cancellationToken);

    /// <summary>Writes one turn's changes atomically. Changes for a deleted resource are dropped.</summary>
    Task CommitAsync(string name, GrainChanges changes, CancellationToken cancellationToken);

    /// <summary>Proves the store answers (for health checks).</summary>
    Task PingAsync(CancellationToken cancellationToken);
}
