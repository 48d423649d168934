using System.Collections.Concurrent;

namespace OrleansQueue.Silo.Grains;

/// <summary>The resources active on this silo with their depths as of their last commit, for the queue-depth gauges.</summary>
public sealed class LiveResources
{
    private readonly ConcurrentDictionary<string, (int Waiting, int Leases)> _depths = new(StringComparer.Ordinal);

    public void Update(string resource, int waiting, int leases) => _depths[resource] = (waiting, leases);

    public void Remove(string resource) => _depths.TryRemove(resource, out _);

    public IEnumerable<(string Resource, int Waiting, int Leases)> Depths => _depths.Select(d => (d.Key, d.Value.Waiting, d.Value.Leases));

    public int Count => _depths.Count;
}
