using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class OrderTests : SchedulerTestBase
{
    private readonly ResourceScheduler _grain;
    private readonly long _blocker;

    public OrderTests()
    {
        _grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5) });
        _blocker = Granted(_grain.Acquire("blocker"));
    }

    /// <summary>Releases the held lease and every grant that follows, one at a time, returning the grant order.</summary>
    private List<long> ServeAll()
    {
        var order = new List<long>();
        long current = _blocker;
        while (true)
        {
            _grain.Release(current);
            var grants = GrantsIn(Drain(_grain));
            if (grants.Count == 0)
                return order;
            current = Assert.Single(grants);
            order.Add(current);
        }
    }

    [Fact]
    public void StrictPriorityServesEveryMoreUrgentLevelFirst()
    {
        long background = Queued(_grain.Acquire("a", priority: Priority.Background));
        long normal = Queued(_grain.Acquire("a", priority: Priority.Normal));
        long low = Queued(_grain.Acquire("b", priority: Priority.Low));
        long critical = Queued(_grain.Acquire("c", priority: Priority.Critical));
        long high = Queued(_grain.Acquire("b", priority: Priority.High));

        Assert.Equal([critical, high, normal, low, background], ServeAll());
    }

    [Fact]
    public void RequestsOfOneClientAtOneLevelAreServedInArrivalOrder()
    {
        var ids = Enumerable.Range(0, 6).Select(_ => Queued(_grain.Acquire("solo", load: 1))).ToList();
        Assert.Equal(ids, ServeAll());
    }

    [Fact]
    public void ClientsOfOneLevelTakeTurnsSoABurstDoesNotStarveOthers()
    {
        var burst = Enumerable.Range(0, 5).Select(_ => Queued(_grain.Acquire("burst"))).ToList();
        long other1 = Queued(_grain.Acquire("other"));
        long other2 = Queued(_grain.Acquire("other"));

        var order = ServeAll();

        Assert.Equal([burst[0], other1, burst[1], other2, burst[2], burst[3], burst[4]], order);
    }

    [Fact]
    public void FairnessIsByLoadSoAClientOfBigRequestsGetsProportionallyFewerGrants()
    {
        var big = Enumerable.Range(0, 4).Select(_ => Queued(_grain.Acquire("big", load: 300))).ToList();
        var small = Enumerable.Range(0, 12).Select(_ => Queued(_grain.Acquire("small", load: 100))).ToList();

        var order = ServeAll();

        // Each big request is worth three small ones: "small" is served three times per "big" grant.
        var firstEight = order.Take(8).Select(id => big.Contains(id) ? 'B' : 'S');
        Assert.Equal("SSBSSSBS", string.Concat(firstEight));
    }

    [Fact]
    public void ABigRequestIsPassedOnlyUntilSmallOnesHaveHadTheSameLoadThenBlocksThem()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 1000, Window = TimeSpan.FromSeconds(10), DefaultMaxWait = TimeSpan.FromMinutes(5) });
        Granted(grain.Acquire("small", load: 100));
        long big = Queued(grain.Acquire("big", load: 1000));
        int smallGrantsBeforeBig = 0;
        for (int step = 0; step < 1000; step++)
        {
            // A steady stream of small requests that would each fit the budget left.
            if (grain.Acquire("small", load: 10).Outcome == AcquireOutcome.Granted)
                smallGrantsBeforeBig++;
            Clock.Advance(TimeSpan.FromMilliseconds(100));
            grain.Tick();
            var grants = GrantsIn(Drain(grain));
            if (grants.Contains(big))
            {
                // Fair by load: "small" may take as much load as "big" asks for (1000 = 100 x 10), then the big one leads.
                Assert.InRange(smallGrantsBeforeBig, 1, 100);
                return;
            }
            smallGrantsBeforeBig += grants.Count;
        }
        Assert.Fail("the big request was never granted");
    }

    [Fact]
    public void ARequestOfAMoreUrgentLevelThatFitsIsGrantedPastABlockedHead()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 100 });
        Granted(grain.Acquire("a", load: 60));
        Queued(grain.Acquire("a", load: 50, priority: Priority.Low));
        Granted(grain.Acquire("b", load: 40, priority: Priority.High));
        // Same level as nothing waiting above it: a Low request still queues behind the Low head.
        Queued(grain.Acquire("b", load: 1, priority: Priority.Background));
    }

    [Fact]
    public void AgingMovesAWaitingRequestUpOneLevelPerInterval()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, AgingInterval = TimeSpan.FromSeconds(10), DefaultMaxWait = TimeSpan.FromMinutes(5),
        });
        long held = Granted(grain.Acquire("a"));
        long old = Queued(grain.Acquire("patient", priority: Priority.Background));
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(10), grain.GetNextDeadline());

        Clock.Advance(TimeSpan.FromSeconds(25));
        grain.Tick();
        Assert.Equal(Priority.Normal, grain.GetStatus(old).Priority);

        long fresh = Queued(grain.Acquire("busy", priority: Priority.Normal));
        grain.Release(held);

        Assert.Equal([old], GrantsIn(Drain(grain)));
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(fresh).Kind);
        Assert.Equal(2, grain.GetStats().Promoted);
    }

    [Fact]
    public void WithoutAgingALowLevelWaitsAsLongAsUrgentTrafficKeepsComing()
    {
        long low = Queued(_grain.Acquire("patient", priority: Priority.Low));
        long current = _blocker;
        for (int i = 0; i < 10; i++)
        {
            Queued(_grain.Acquire("busy", priority: Priority.High));
            Clock.Advance(TimeSpan.FromSeconds(10));
            _grain.Release(current);
            current = Assert.Single(GrantsIn(Drain(_grain)));
            Assert.NotEqual(low, current);
        }
    }

    [Fact]
    public void ClientsThatLeaveAreForgottenOnceVirtualTimeHasPassedTheirDebt()
    {
        var oneOff = Enumerable.Range(0, 200).Select(i => Queued(_grain.Acquire($"one-off-{i}"))).ToList();
        Assert.Equal(oneOff, ServeAll().Take(200));
        Assert.True(_grain.TrackedClients > 0, "served clients keep their debt until virtual time passes it");

        long current = Granted(_grain.Acquire("steady"));
        for (int i = 0; i < 300; i++)
        {
            Queued(_grain.Acquire("steady"));
            _grain.Release(current);
            current = Assert.Single(GrantsIn(Drain(_grain)));
        }

        Assert.InRange(_grain.TrackedClients, 0, 1);
    }
}
