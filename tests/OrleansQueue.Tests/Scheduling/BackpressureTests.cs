using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class BackpressureTests : SchedulerTestBase
{
    private ResourceScheduler Saturated(ResourcePolicy policy)
    {
        var grain = NewScheduler(policy with { MaxConcurrent = 1 });
        Granted(grain.Acquire("holder"));
        return grain;
    }

    [Fact]
    public void AFullWaitlistRefusesWithQueueFullAndKeepsWhatItAccepted()
    {
        var grain = Saturated(new ResourcePolicy { MaxQueueLength = 2 });
        long a = Queued(grain.Acquire("a"));
        long b = Queued(grain.Acquire("b"));

        var rejection = Rejected(grain.Acquire("c"), RejectionReason.QueueFull);

        Assert.Contains("MaxQueueLength of 2", rejection.Message);
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(a).Kind);
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(b).Kind);
        Assert.Equal(1, grain.GetStats().Rejected[RejectionReason.QueueFull]);
    }

    [Fact]
    public void AClientOverItsQuotaIsRefusedWhileOthersStillQueue()
    {
        var grain = Saturated(new ResourcePolicy { MaxQueuedPerClient = 2 });
        Queued(grain.Acquire("greedy"));
        Queued(grain.Acquire("greedy"));

        var rejection = Rejected(grain.Acquire("greedy"), RejectionReason.ClientQuotaExceeded);

        // The caller knows its own client id; the message need not repeat it (the silo's id carries the tenant).
        Assert.DoesNotContain("greedy", rejection.Message);
        Assert.Contains("MaxQueuedPerClient of 2", rejection.Message);
        Queued(grain.Acquire("modest"));
    }

    [Fact]
    public void ATenantOverItsQuotaIsRefusedWhateverClientIdsItUsesWhileOtherTenantsStillQueue()
    {
        var grain = Saturated(new ResourcePolicy { MaxQueuedPerTenant = 2 });
        Queued(grain.Acquire("a:one"));
        Queued(grain.Acquire("a:two"));

        var rejection = Rejected(grain.Acquire("a:three"), RejectionReason.TenantQuotaExceeded);

        Assert.Contains("MaxQueuedPerTenant of 2", rejection.Message);
        Assert.DoesNotContain("a:", rejection.Message);
        Queued(grain.Acquire("b:one"));
        Queued(grain.Acquire("b:two:with-colon")); // the tenant is what comes before the first colon
        Rejected(grain.Acquire("b:three"), RejectionReason.TenantQuotaExceeded);
    }

    [Fact]
    public void AFullWaitlistThatNothingHasLeftGivesNoRetryTimeAndSaysWhy()
    {
        var grain = Saturated(new ResourcePolicy { MaxQueueLength = 1 });
        Queued(grain.Acquire("a"));

        var rejection = Rejected(grain.Acquire("b"), RejectionReason.QueueFull);

        Assert.Null(rejection.RetryAfter);
        Assert.Contains("no retry time can be estimated", rejection.Message);
    }

    [Theory]
    [InlineData(1, 0.9, 1.3)] // a request leaves every second: a place frees in about one
    [InlineData(2, 1.7, 2.3)]
    public void AFullWaitlistEstimatesItsRetryFromHowFastItDrains(int secondsPerDeparture, double atLeast, double atMost)
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, MaxQueueLength = 2, DefaultMaxWait = TimeSpan.FromMinutes(10) });
        long holder = Granted(grain.Acquire("holder"));
        Queued(grain.Acquire("a"));
        Queued(grain.Acquire("b"));
        // Forty hand-offs at a steady pace: each release serves the head of the waitlist, and a new request takes its place.
        for (int i = 0; i < 40; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(secondsPerDeparture));
            grain.Release(holder);
            holder = GrantsIn(Drain(grain)).Single();
            grain.Renew(holder); // claimed
            Queued(grain.Acquire("c" + i));
        }

        var full = Rejected(grain.Acquire("late"), RejectionReason.QueueFull);

        Assert.InRange(full.RetryAfter!.Value.TotalSeconds, atLeast, atMost);
        Assert.Contains("a place frees in about", full.Message);
    }

    [Fact]
    public void AClientOverItsQuotaWaitsAboutOneDeparturePerWaitingClient()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, MaxQueuedPerClient = 1, DefaultMaxWait = TimeSpan.FromMinutes(10) });
        long holder = Granted(grain.Acquire("holder"));
        for (int i = 0; i < 40; i++) // one departure a second
        {
            Queued(grain.Acquire("x" + i));
            Clock.Advance(TimeSpan.FromSeconds(1));
            grain.Release(holder);
            holder = GrantsIn(Drain(grain)).Single();
            grain.Renew(holder);
        }
        foreach (string client in new[] { "a", "b", "c" })
            Queued(grain.Acquire(client));

        var refused = Rejected(grain.Acquire("a"), RejectionReason.ClientQuotaExceeded);

        Assert.InRange(refused.RetryAfter!.Value.TotalSeconds, 2.7, 3.6); // three clients waiting: its turn in about three
    }

    [Fact]
    public void AWaitingRequestTimesOutAtItsMaximumWaitWithATypedEvent()
    {
        var grain = Saturated(new ResourcePolicy());
        long id = Queued(grain.Acquire("a", maxWait: TimeSpan.FromSeconds(3)));
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(3), grain.GetNextDeadline());

        Clock.Advance(TimeSpan.FromSeconds(3));
        grain.Tick();

        var timedOut = Assert.Single(Drain(grain));
        Assert.Equal(ResourceEventKind.TimedOut, timedOut.Kind);
        Assert.Equal(id, timedOut.RequestId);
        Assert.Equal(RejectionReason.TimedOut, timedOut.Rejection!.Value.Reason);
        Assert.Equal(RequestStatusKind.Unknown, grain.GetStatus(id).Kind);
        Assert.Equal(1, grain.GetStats().TimedOut);
    }

    [Fact]
    public void BudgetFreedBeforeADeadlineGrantsTheRequestEvenWhenTheHostTicksLate()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, LeaseTtl = TimeSpan.FromSeconds(2), ClaimWindow = TimeSpan.FromSeconds(1) });
        Granted(grain.Acquire("holder"));
        long waiting = Queued(grain.Acquire("a", maxWait: TimeSpan.FromSeconds(3)));

        Clock.Advance(TimeSpan.FromSeconds(10)); // the lease expired at 2 s, the deadline was at 3 s
        grain.Tick();

        Assert.Contains(waiting, GrantsIn(Drain(grain)));
    }

    [Fact]
    public void ARequestThatMayNotWaitIsRefusedWithWhenToRetry()
    {
        var grain = NewScheduler(new ResourcePolicy { RequestsPerWindow = 1, Window = TimeSpan.FromSeconds(30) });
        Granted(grain.Acquire("a"));
        Clock.Advance(TimeSpan.FromSeconds(10));

        var rejection = Rejected(grain.Acquire("a", maxWait: TimeSpan.Zero), RejectionReason.TimedOut);

        Assert.Equal(TimeSpan.FromSeconds(20), rejection.RetryAfter);
        Assert.Equal(0, grain.GetStats().Waiting);
    }

    [Theory]
    [InlineData("", 1, Priority.Normal, null, RejectionReason.InvalidRequest, "clientId")]
    [InlineData("  ", 1, Priority.Normal, null, RejectionReason.InvalidRequest, "clientId")]
    [InlineData("a", 0, Priority.Normal, null, RejectionReason.InvalidLoad, "load")]
    [InlineData("a", -5, Priority.Normal, null, RejectionReason.InvalidLoad, "load")]
    [InlineData("a", (1L << 40) + 1, Priority.Normal, null, RejectionReason.InvalidLoad, "load")]
    [InlineData("a", 1, (Priority)5, null, RejectionReason.InvalidRequest, "priority")]
    [InlineData("a", 1, Priority.Normal, -1.0, RejectionReason.InvalidRequest, "maxWait")]
    [InlineData("a", 1, Priority.Normal, 601.0, RejectionReason.InvalidRequest, "maxWait")]
    public void BadInputIsRefusedWithTheFieldAndTheRule(string client, long load, Priority priority, double? waitSeconds, RejectionReason reason, string field)
    {
        var grain = NewScheduler(new ResourcePolicy());
        var wait = waitSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;

        var rejection = Rejected(grain.Acquire(client, load, priority, wait), reason);

        Assert.Equal(field, rejection.Field);
        Assert.StartsWith(field, rejection.Message);
        Assert.Equal(0, grain.GetStats().Leases);
    }

    [Fact]
    public void ATooLongClientIdIsRefused()
    {
        var grain = NewScheduler(new ResourcePolicy());
        var rejection = Rejected(grain.Acquire(new string('x', ResourceScheduler.MaxClientIdLength + 1)), RejectionReason.InvalidRequest);
        Assert.Equal("clientId", rejection.Field);
    }

    [Fact]
    public void ANegativeActualLoadOnReleaseIsMisuseAndChangesNothing()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 100 });
        long lease = Granted(grain.Acquire("a", load: 10));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => grain.Release(lease, actualLoad: -1));

        Assert.Equal("actualLoad", error.ParamName);
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(lease).Kind);
    }
}
