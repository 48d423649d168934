using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// A store that keeps everything in memory: for tests, and for a silo that needs no durability. One instance shared by
/// several silos in a process is a cluster store too (ownership epochs), as the test cluster uses.
/// </summary>
internal sealed class InMemoryGrainStore : IGrainStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Entry> _resources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _heartbeats = new(StringComparer.Ordinal);
    private long _lastEpoch; // one sequence for all resources, so a deleted and re-created resource never reuses an epoch

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlyList<ResourceDefinition>>([.. _resources.Values.Select(r => r.Current)]);
    }

    public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_resources.TryGetValue(name, out var r) ? r.Current : null);
    }

    public Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_resources.TryGetValue(definition.Name, out var existing))
            {
                existing.State.SetPolicy(definition.Policy);
                existing.Definition = definition;
                return Task.FromResult(false);
            }
            _resources[definition.Name] = new Entry(definition, new StoredResourceState(definition.Policy));
            return Task.FromResult(true);
        }
    }

    public Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_resources.Remove(name));
    }

    public Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_resources.TryGetValue(name, out var r))
                return Task.FromResult<ClaimedGrain?>(null);
            var snapshot = r.State.ToSnapshot();
            long savedAt = ClaimedGrain.LastAlive(snapshot.SavedAt, r.Owner is { } previous ? _heartbeats.GetValueOrDefault(previous) : -1);
            r.Owner = owner;
            r.Epoch = ++_lastEpoch;
            return Task.FromResult<ClaimedGrain?>(new ClaimedGrain(snapshot with { SavedAt = savedAt }, r.Epoch, r.Sequence));
        }
    }

    public Task HeartbeatAsync(string owner, long aliveAt, CancellationToken cancellationToken)
    {
        lock (_lock)
            _heartbeats[owner] = Math.Max(aliveAt, _heartbeats.GetValueOrDefault(owner));
        return Task.CompletedTask;
    }

    public Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _resources.TryGetValue(name, out var r) && r.Epoch == epoch
                ? Task.CompletedTask
                : Task.FromException(new OwnershipLostException(name, epoch));
        }
    }

    public bool PipelinesCommits => true;

    public Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_resources.TryGetValue(name, out var r))
                return Task.CompletedTask;
            if (r.Epoch != epoch)
                return Task.FromException(new OwnershipLostException(name, epoch));
            if (r.Sequence != sequence - 1)
                return Task.FromException(new CommitOutOfOrderException(name, epoch, sequence));
            r.Sequence = sequence;
            r.State.Apply(changes);
        }
        return Task.CompletedTask;
    }

    public Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_resources.TryGetValue(name, out var r) && r.Epoch == epoch)
                r.Owner = null;
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlyList<(string, string)>>([.. _resources.Where(r => r.Value.Owner is not null).Select(r => (r.Key, r.Value.Owner!))]);
    }

    public Task PingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Entry(ResourceDefinition definition, StoredResourceState state)
    {
        public ResourceDefinition Definition { get; set; } = definition;
        public StoredResourceState State { get; } = state;
        public string? Owner { get; set; }
        public long Epoch { get; set; }
        /// <summary>The number of the last batch written.</summary>
        public long Sequence { get; set; }
        public ResourceDefinition Current => Definition with { Policy = State.Policy };
    }
}
