using System.Collections.Concurrent;

namespace OrleansQueue.Grains;

/// <summary>The resources active on this silo with their depths (and the share of their configured limits in force) as of
/// their last commit, for the gauges.</summary>
internal sealed class LiveResources
{
    private readonly ConcurrentDictionary<string, (int Waiting, int Leases, double Working)> _depths = new(StringComparer.Ordinal);

    public void Update(string resource, int waiting, int leases, double working = 1) => _depths[resource] = (waiting, leases, working);

    public void Remove(string resource) => _depths.TryRemove(resource, out _);

    public IEnumerable<(string Resource, int Waiting, int Leases, double Working)> Depths =>
        _depths.Select(d => (d.Key, d.Value.Waiting, d.Value.Leases, d.Value.Working));

    public int Count => _depths.Count;
}
