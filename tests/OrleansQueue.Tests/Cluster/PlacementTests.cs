using OrleansQueue.Silo.Cluster;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Tests.Cluster;

public sealed class PlacementTests
{
    private static ClusterView ViewOf(params string[] ids)
    {
        var view = new ClusterView(new SiloEntry(ids[0], ""), TimeProvider.System, TimeSpan.FromSeconds(5), clustered: true);
        view.Update([.. ids.Select(id => new SiloEntry(id, "")).OrderBy(s => s.Id, StringComparer.Ordinal)], TimeProvider.System.GetTimestamp());
        return view;
    }

    private static readonly string[] Names = [.. Enumerable.Range(0, 10_000).Select(i => $"resource-{i}")];

    [Fact]
    public void ResourcesSpreadEvenlyOverTheSilos()
    {
        var view = ViewOf("silo-a", "silo-b", "silo-c", "silo-d");
        var counts = Names.GroupBy(n => view.OwnerOf(n).Id).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 2_250, 2_750)); // within 10% of a fair 2,500
    }

    [Fact]
    public void AnAddedSiloTakesAFairShareAndNothingMovesBetweenTheOthers()
    {
        var before = ViewOf("silo-a", "silo-b", "silo-c");
        var after = ViewOf("silo-a", "silo-b", "silo-c", "silo-d");
        int moved = 0;
        foreach (string name in Names)
        {
            string was = before.OwnerOf(name).Id, now = after.OwnerOf(name).Id;
            if (was != now)
            {
                Assert.Equal("silo-d", now);
                moved++;
            }
        }
        Assert.InRange(moved, 2_250, 2_750);
    }

    [Fact]
    public void ARemovedSilosResourcesAloneMove()
    {
        var before = ViewOf("silo-a", "silo-b", "silo-c");
        var after = ViewOf("silo-a", "silo-c");
        Assert.All(Names.Where(n => before.OwnerOf(n).Id != "silo-b"), n => Assert.Equal(before.OwnerOf(n).Id, after.OwnerOf(n).Id));
        Assert.DoesNotContain(Names, n => after.OwnerOf(n).Id == "silo-b");
    }

    [Fact]
    public void ASiloActsOnNothingBeforeItsFirstHeartbeatOrWhilePaused()
    {
        var view = new ClusterView(new SiloEntry("silo-a", ""), TimeProvider.System, TimeSpan.FromSeconds(5), clustered: true);
        Assert.False(view.IsHealthy);
        view.Update([new SiloEntry("silo-a", "")], TimeProvider.System.GetTimestamp());
        Assert.True(view.IsHealthy);
        view.Paused = true;
        Assert.False(view.IsHealthy);
        Assert.True(ClusterView.Single().IsHealthy);
    }
}
