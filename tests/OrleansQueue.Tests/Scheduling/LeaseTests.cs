using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class LeaseTests : SchedulerTestBase
{
    private static readonly ResourcePolicy Policy = new()
    {
        MaxConcurrent = 1, LeaseTtl = TimeSpan.FromSeconds(30), ClaimWindow = TimeSpan.FromSeconds(2),
    };

    [Fact]
    public void RenewingPushesTheExpiryOneTtlFromNow()
    {
        var grain = NewScheduler(Policy);
        var granted = grain.Acquire("a");
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(30), granted.ExpiresAt);

        Clock.Advance(TimeSpan.FromSeconds(20));
        var renewed = grain.Renew(granted.RequestId);
        Clock.Advance(TimeSpan.FromSeconds(20));
        grain.Tick();

        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(10), renewed.ExpiresAt);
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(granted.RequestId).Kind);
        Assert.Empty(Drain(grain));
    }

    [Fact]
    public void AGrantNobodyClaimsIsReclaimedAfterTheClaimWindowAndGoesToTheNextWaiter()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("a"));
        long gone = Queued(grain.Acquire("gone"));
        long next = Queued(grain.Acquire("next"));
        grain.Release(held);
        Assert.Equal([gone], GrantsIn(Drain(grain)));

        Clock.Advance(TimeSpan.FromSeconds(2));
        grain.Tick();

        var events = Drain(grain);
        Assert.Equal(ResourceEventKind.GrantReclaimed, events[0].Kind);
        Assert.Equal(gone, events[0].RequestId);
        Assert.Equal([next], GrantsIn(events));
        Assert.Equal(1, grain.GetStats().Reclaimed);
    }

    [Fact]
    public void ClaimingAGrantMakesItALeaseWithTheFullTtl()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("a"));
        long waiting = Queued(grain.Acquire("b"));
        grain.Release(held);
        var granted = Assert.Single(Drain(grain));
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(2), granted.ExpiresAt);

        var claimed = grain.Renew(waiting);
        Clock.Advance(TimeSpan.FromSeconds(10));
        grain.Tick();

        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(20), claimed.ExpiresAt);
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(waiting).Kind);
    }

    [Fact]
    public void FencingTokensStrictlyIncreaseInGrantOrderNotArrivalOrder()
    {
        var grain = NewScheduler(Policy);
        var first = grain.Acquire("a");
        long low = Queued(grain.Acquire("a", priority: Priority.Low));
        long high = Queued(grain.Acquire("b", priority: Priority.High));
        grain.Release(first.RequestId);
        var highGrant = Assert.Single(Drain(grain));
        grain.Release(high);
        var lowGrant = Assert.Single(Drain(grain));

        Assert.Equal(high, highGrant.RequestId);
        Assert.Equal(low, lowGrant.RequestId);
        Assert.True(first.FencingToken < highGrant.FencingToken);
        Assert.True(highGrant.FencingToken < lowGrant.FencingToken);
    }

    [Fact]
    public void ReleasingTwiceIsHarmlessAndSaysNotFound()
    {
        var grain = NewScheduler(Policy);
        long id = Granted(grain.Acquire("a"));
        Assert.Equal(LeaseOutcome.Ok, grain.Release(id).Outcome);
        Assert.Equal(LeaseOutcome.NotFound, grain.Release(id).Outcome);
        Assert.Equal(LeaseOutcome.NotFound, grain.Renew(id).Outcome);
        Assert.Equal(0, grain.GetStats().Leases);
    }

    [Fact]
    public void ReleasingOrRenewingAWaitingTicketSaysItIsNotGranted()
    {
        var grain = NewScheduler(Policy);
        Granted(grain.Acquire("a"));
        long ticket = Queued(grain.Acquire("b"));
        Assert.Equal(LeaseOutcome.NotGranted, grain.Release(ticket).Outcome);
        Assert.Equal(LeaseOutcome.NotGranted, grain.Renew(ticket).Outcome);
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(ticket).Kind);
    }

    [Fact]
    public void CancellingAWaitingTicketRemovesItAndTheNextInLineMovesUp()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("a"));
        long cancelled = Queued(grain.Acquire("b"));
        long next = Queued(grain.Acquire("c"));

        Assert.True(grain.Cancel(cancelled).IsOk);
        Assert.Equal(1, grain.GetStatus(next).Position);
        grain.Release(held);

        Assert.Equal([next], GrantsIn(Drain(grain)));
        Assert.Equal(1, grain.GetStats().Cancelled);
        Assert.Equal(LeaseOutcome.NotFound, grain.Cancel(cancelled).Outcome);
    }

    [Fact]
    public void CancellingARequestWhoseGrantRacedTheCancelReleasesTheGrant()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("a"));
        long raced = Queued(grain.Acquire("b"));
        long next = Queued(grain.Acquire("c"));
        grain.Release(held);
        Assert.Equal([raced], GrantsIn(Drain(grain)));

        Assert.True(grain.Cancel(raced).IsOk);

        Assert.Equal([next], GrantsIn(Drain(grain)));
    }

    [Fact]
    public void StatusReportsPositionWhileWaitingAndTheTokenOnceHeld()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("a"));
        long normal = Queued(grain.Acquire("b"));
        var high = grain.Acquire("c", priority: Priority.High);
        Assert.Equal(1, high.Position);

        var status = grain.GetStatus(normal);
        Assert.Equal(RequestStatusKind.Waiting, status.Kind);
        Assert.Equal(2, status.Position);
        Assert.Equal(Priority.Normal, status.Priority);

        var heldStatus = grain.GetStatus(held);
        Assert.Equal(RequestStatusKind.Held, heldStatus.Kind);
        Assert.Equal(1, heldStatus.FencingToken);
        Assert.Equal(RequestStatusKind.Unknown, grain.GetStatus(999).Kind);
    }
}
