using OrleansQueue.Grains.Persistence;

namespace OrleansQueue.Silo.Storage;

/// <summary>A store that keeps everything in memory: for tests, and for a silo that needs no durability.</summary>
public sealed class InMemoryGrainStore : IGrainStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, (ResourceDefinition Definition, StoredGrainState State)> _resources = new(StringComparer.Ordinal);

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlyList<ResourceDefinition>>([.. _resources.Values.Select(r => r.Definition with { Policy = r.State.Policy })]);
    }

    public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_resources.TryGetValue(name, out var r) ? r.Definition with { Policy = r.State.Policy } : null);
    }

    public Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_resources.TryGetValue(definition.Name, out var existing))
            {
                existing.State.SetPolicy(definition.Policy);
                _resources[definition.Name] = (definition, existing.State);
                return Task.FromResult(false);
            }
            _resources[definition.Name] = (definition, new StoredGrainState(definition.Policy));
            return Task.FromResult(true);
        }
    }

    public Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_resources.Remove(name));
    }

    public Task<GrainSnapshot?> LoadAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_resources.TryGetValue(name, out var r) ? r.State.ToSnapshot() : null);
    }

    public Task CommitAsync(string name, GrainChanges changes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_resources.TryGetValue(name, out var r))
                r.State.Apply(changes);
        }
        return Task.CompletedTask;
    }

    public Task PingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
