using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class DeadlineAndStatsTests : SchedulerTestBase
{
    [Fact]
    public void AnIdleResourceHasNoDeadline()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, RequestsPerWindow = 5 });
        Assert.Null(grain.GetNextDeadline());
        long id = Granted(grain.Acquire("a"));
        grain.Release(id);
        Assert.Null(grain.GetNextDeadline());
    }

    [Fact]
    public void TheDeadlineIsTheEarliestOfLeaseExpiryWaitDeadlineAndRateRefill()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            RequestsPerWindow = 1, Window = TimeSpan.FromSeconds(40), LeaseTtl = TimeSpan.FromSeconds(50),
            ClaimWindow = TimeSpan.FromSeconds(1),
        });
        var start = Clock.GetUtcNow();
        Granted(grain.Acquire("a"));
        Assert.Equal(start + TimeSpan.FromSeconds(50), grain.GetNextDeadline());

        Queued(grain.Acquire("b", maxWait: TimeSpan.FromSeconds(60)));
        Assert.Equal(start + TimeSpan.FromSeconds(40), grain.GetNextDeadline());

        Queued(grain.Acquire("c", maxWait: TimeSpan.FromSeconds(30)));
        Assert.Equal(start + TimeSpan.FromSeconds(30), grain.GetNextDeadline());
    }

    [Fact]
    public void ARequestBlockedOnlyByConcurrencyWaitsForAnEventNotATimer()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, RequestsPerWindow = 1000, LeaseTtl = TimeSpan.FromHours(1) });
        Granted(grain.Acquire("a"));
        Queued(grain.Acquire("b", maxWait: TimeSpan.FromMinutes(5)));
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromMinutes(5), grain.GetNextDeadline());
    }

    [Fact]
    public void StatsShowDepthByPriorityAndClientLeasesBudgetAndTotals()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 2, RequestsPerWindow = 10, LoadPerWindow = 1000 });
        long a = Granted(grain.Acquire("a", load: 100));
        Granted(grain.Acquire("b", load: 200));
        Queued(grain.Acquire("a", load: 10, priority: Priority.High));
        Queued(grain.Acquire("c", load: 10, priority: Priority.Low));
        Queued(grain.Acquire("c", load: 10, priority: Priority.Low));
        Rejected(grain.Acquire("c", load: 0), RejectionReason.InvalidLoad);
        Clock.Advance(TimeSpan.FromMilliseconds(40));
        grain.Release(a, actualLoad: 50);

        var stats = grain.GetStats();

        Assert.Equal(2, stats.Waiting);
        Assert.Equal([0, 0, 0, 2, 0], stats.WaitingByPriority);
        Assert.Equal(new Dictionary<string, int> { ["c"] = 2 }, stats.WaitingByClient);
        Assert.Equal(2, stats.Leases);
        Assert.Equal(210, stats.LeasedLoad);
        Assert.Equal(7, stats.RequestsLeftInWindow);
        Assert.Equal(1000 - 50 - 200 - 10, stats.LoadLeftInWindow);
        Assert.Equal(3, stats.Granted);
        Assert.Equal(1, stats.Released);
        Assert.Equal(1, stats.Rejected[RejectionReason.InvalidLoad]);
        Assert.InRange(stats.WaitMax, TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(45));
        Assert.Equal(TimeSpan.Zero, stats.WaitP50);
    }

    [Fact]
    public void WaitPercentilesFollowTheRecordedWaits()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(10) });
        long current = Granted(grain.Acquire("a"));
        var ids = Enumerable.Range(0, 99).Select(_ => Queued(grain.Acquire("a"))).ToList();
        foreach (var _ in ids)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            grain.Release(current);
            current = Assert.Single(GrantsIn(Drain(grain)));
        }

        var stats = grain.GetStats();

        // Waits are 1 s .. 99 s plus one immediate grant; the histogram is within 12.5%.
        Assert.InRange(stats.WaitP50.TotalSeconds, 49, 50 * 1.125);
        Assert.InRange(stats.WaitP99.TotalSeconds, 98, 99);
        Assert.Equal(TimeSpan.FromSeconds(99), stats.WaitMax);
    }
}
