using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class BudgetTests : SchedulerTestBase
{
    [Fact]
    public void ConcurrencyLimitQueuesTheNextRequestAndGrantsItOnRelease()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 2 });
        long a = Granted(grain.Acquire("c1"));
        Granted(grain.Acquire("c1"));
        long waiting = Queued(grain.Acquire("c1"));

        Assert.True(grain.Release(a).IsOk);

        var events = Drain(grain);
        Assert.Equal([waiting], GrantsIn(events));
        Assert.Equal(RequestStatusKind.Granted, grain.GetStatus(waiting).Kind);
    }

    [Fact]
    public void RequestsPerWindowComeBackExactlyOneWindowAfterTheyWereSpent()
    {
        var grain = NewScheduler(new ResourcePolicy { RequestsPerWindow = 2, Window = TimeSpan.FromSeconds(10) });
        Granted(grain.Acquire("c1"));
        Clock.Advance(TimeSpan.FromSeconds(4));
        Granted(grain.Acquire("c1"));
        long third = Queued(grain.Acquire("c1"));

        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(6), grain.GetNextDeadline());
        Clock.Advance(TimeSpan.FromSeconds(6) - TimeSpan.FromTicks(1));
        grain.Tick();
        Assert.Empty(GrantsIn(Drain(grain)));

        Clock.Advance(TimeSpan.FromTicks(1));
        grain.Tick();
        Assert.Equal([third], GrantsIn(Drain(grain)));
    }

    [Fact]
    public void LoadPerWindowRefillsContinuouslyAsOldSpendingAgesOut()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000, Window = TimeSpan.FromMinutes(1) });
        Granted(grain.Acquire("c1", load: 600));
        Clock.Advance(TimeSpan.FromSeconds(20));
        Granted(grain.Acquire("c1", load: 300));
        long big = Queued(grain.Acquire("c1", load: 500, maxWait: TimeSpan.FromMinutes(5)));

        // 600 returns at 60 s; then 300 + 500 fit.
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(40), grain.GetNextDeadline());
        Clock.Advance(TimeSpan.FromSeconds(40));
        grain.Tick();
        Assert.Equal([big], GrantsIn(Drain(grain)));
        Assert.Equal(200, grain.GetStats().LoadLeftInWindow);
    }

    [Fact]
    public void NoWindowLongIntervalEverHoldsMoreThanTheLoadLimit()
    {
        // A token bucket would allow 2000 here: a full bucket at t=0 and its refill by t=60s.
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000, Window = TimeSpan.FromMinutes(1) });
        Granted(grain.Acquire("c1", load: 1000));
        Clock.Advance(TimeSpan.FromSeconds(59));
        var late = grain.Acquire("c1", load: 1, maxWait: TimeSpan.Zero);
        var rejection = Rejected(late, RejectionReason.TimedOut);
        Assert.Equal(TimeSpan.FromSeconds(1), rejection.RetryAfter);
    }

    [Fact]
    public void ReleaseWithSmallerActualLoadRefundsTheDifferenceAtOnce()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000 });
        long lease = Granted(grain.Acquire("c1", load: 800));
        long waiting = Queued(grain.Acquire("c2", load: 500));

        grain.Release(lease, actualLoad: 300);

        Assert.Equal([waiting], GrantsIn(Drain(grain)));
        Assert.Equal(200, grain.GetStats().LoadLeftInWindow);
    }

    [Fact]
    public void ReleaseWithLargerActualLoadChargesTheDifferenceAndDelaysLaterGrants()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000 });
        long lease = Granted(grain.Acquire("c1", load: 100));
        grain.Release(lease, actualLoad: 900);

        Assert.Equal(100, grain.GetStats().LoadLeftInWindow);
        Queued(grain.Acquire("c1", load: 200));
    }

    [Fact]
    public void ActualLoadReportedAfterTheGrantLeftTheWindowIsChargedWhenReported()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000, Window = TimeSpan.FromSeconds(10), LeaseTtl = TimeSpan.FromMinutes(5) });
        long lease = Granted(grain.Acquire("c1", load: 100));
        Clock.Advance(TimeSpan.FromSeconds(30));
        grain.Renew(lease);
        grain.Release(lease, actualLoad: 700);

        Assert.Equal(400, grain.GetStats().LoadLeftInWindow);
    }

    [Fact]
    public void AnExpiredLeaseReturnsItsConcurrencyButNotItsRateBudget()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, RequestsPerWindow = 10, LoadPerWindow = 1000,
            LeaseTtl = TimeSpan.FromSeconds(5), ClaimWindow = TimeSpan.FromSeconds(1),
        });
        long lease = Granted(grain.Acquire("c1", load: 400));
        long waiting = Queued(grain.Acquire("c1", load: 100));

        Clock.Advance(TimeSpan.FromSeconds(5));
        grain.Tick();

        var events = Drain(grain);
        Assert.Equal(ResourceEventKind.LeaseExpired, events[0].Kind);
        Assert.Equal(lease, events[0].RequestId);
        Assert.Equal([waiting], GrantsIn(events));
        var stats = grain.GetStats();
        Assert.Equal(500, 1000 - stats.LoadLeftInWindow);
        Assert.Equal(1, stats.Expired);
        Assert.Equal(LeaseOutcome.NotFound, grain.Release(lease).Outcome);
    }

    [Fact]
    public void LoweringALimitNeverRevokesGrantedLeasesAndOnlyDelaysNewGrants()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 3 });
        long a = Granted(grain.Acquire("c1"));
        long b = Granted(grain.Acquire("c1"));
        long c = Granted(grain.Acquire("c1"));

        grain.UpdatePolicy(grain.Policy with { MaxConcurrent = 1 });
        long waiting = Queued(grain.Acquire("c1"));
        Assert.Equal(3, grain.GetStats().Leases);

        grain.Release(a);
        grain.Release(b);
        Assert.Empty(GrantsIn(Drain(grain)));
        grain.Release(c);
        Assert.Equal([waiting], GrantsIn(Drain(grain)));
    }

    [Fact]
    public void RaisingALimitGrantsWaitingRequestsAtOnce()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1 });
        Granted(grain.Acquire("c1"));
        long w1 = Queued(grain.Acquire("c1"));
        long w2 = Queued(grain.Acquire("c1"));

        grain.UpdatePolicy(grain.Policy with { MaxConcurrent = 3 });

        Assert.Equal([w1, w2], GrantsIn(Drain(grain)));
    }

    [Fact]
    public void ARequestThatCanNeverFitIsRejectedAtOnceNamingTheLimit()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000 });
        var rejection = Rejected(grain.Acquire("c1", load: 1001), RejectionReason.InvalidLoad);
        Assert.Equal("load", rejection.Field);
        Assert.Contains("LoadPerWindow is 1000", rejection.Message);
        Assert.Contains("test-resource", rejection.Message);
    }

    [Fact]
    public void LoweringTheLoadLimitRejectsWaitingRequestsThatCanNoLongerFit()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000 });
        Granted(grain.Acquire("c1", load: 1000));
        long big = Queued(grain.Acquire("c1", load: 800));
        long small = Queued(grain.Acquire("c2", load: 100));

        grain.UpdatePolicy(grain.Policy with { LoadPerWindow = 500 });

        var rejected = Assert.Single(Drain(grain));
        Assert.Equal(ResourceEventKind.Rejected, rejected.Kind);
        Assert.Equal(big, rejected.RequestId);
        Assert.Equal(RejectionReason.InvalidLoad, rejected.Rejection!.Value.Reason);
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(small).Kind);
    }

    [Fact]
    public void LargeLoadsAndLongRunsDoNotOverflowTheAccounting()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = ResourcePolicy.MaxLoad, Window = TimeSpan.FromSeconds(1) });
        for (int i = 0; i < 5000; i++)
        {
            long id = Granted(grain.Acquire("c" + (i % 3), load: ResourcePolicy.MaxLoad));
            grain.Release(id, actualLoad: ResourcePolicy.MaxLoad);
            Clock.Advance(TimeSpan.FromSeconds(1));
        }
        var stats = grain.GetStats();
        Assert.Equal(5000, stats.Granted);
        Assert.Equal(ResourcePolicy.MaxLoad, stats.LoadLeftInWindow);
    }
}
