using OrleansQueue.Grains;

namespace OrleansQueue.Tests.Grains;

public sealed class BackpressureTests : GrainTestBase
{
    private ResourceScheduler Saturated(ResourcePolicy policy)
    {
        var grain = NewGrain(policy with { MaxConcurrent = 1 });
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

        Assert.Contains("\"greedy\"", rejection.Message);
        Queued(grain.Acquire("modest"));
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
        var grain = NewGrain(new ResourcePolicy { MaxConcurrent = 1, LeaseTtl = TimeSpan.FromSeconds(2), ClaimWindow = TimeSpan.FromSeconds(1) });
        Granted(grain.Acquire("holder"));
        long waiting = Queued(grain.Acquire("a", maxWait: TimeSpan.FromSeconds(3)));

        Clock.Advance(TimeSpan.FromSeconds(10)); // the lease expired at 2 s, the deadline was at 3 s
        grain.Tick();

        Assert.Contains(waiting, GrantsIn(Drain(grain)));
    }

    [Fact]
    public void ARequestThatMayNotWaitIsRefusedWithWhenToRetry()
    {
        var grain = NewGrain(new ResourcePolicy { RequestsPerWindow = 1, Window = TimeSpan.FromSeconds(30) });
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
        var grain = NewGrain(new ResourcePolicy());
        var wait = waitSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;

        var rejection = Rejected(grain.Acquire(client, load, priority, wait), reason);

        Assert.Equal(field, rejection.Field);
        Assert.StartsWith(field, rejection.Message);
        Assert.Equal(0, grain.GetStats().Leases);
    }

    [Fact]
    public void ATooLongClientIdIsRefused()
    {
        var grain = NewGrain(new ResourcePolicy());
        var rejection = Rejected(grain.Acquire(new string('x', ResourceScheduler.MaxClientIdLength + 1)), RejectionReason.InvalidRequest);
        Assert.Equal("clientId", rejection.Field);
    }

    [Fact]
    public void ANegativeActualLoadOnReleaseIsMisuseAndChangesNothing()
    {
        var grain = NewGrain(new ResourcePolicy { LoadPerWindow = 100 });
        long lease = Granted(grain.Acquire("a", load: 10));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => grain.Release(lease, actualLoad: -1));

        Assert.Equal("actualLoad", error.ParamName);
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(lease).Kind);
    }
}
