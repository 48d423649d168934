using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>
/// The silo's clock stepped back or forward under the scheduler. The clock of record is the one the scheduler reads:
/// by it, no lease expires before its TTL and no window-long interval holds more than the window's budget. A step back
/// makes leases last longer and keeps spent budget spent (never the reverse); a step forward is time passing.
/// </summary>
public sealed class ClockJumpTests : SchedulerTestBase
{
    private static ResourcePolicy Policy => new()
    {
        MaxConcurrent = 10, RequestsPerWindow = 2, Window = TimeSpan.FromMinutes(1), LeaseTtl = TimeSpan.FromSeconds(30),
        DefaultMaxWait = TimeSpan.Zero,
    };

    [Fact]
    public void AClockSteppedBackNeitherExpiresALeaseEarlyNorGivesBackSpentBudget()
    {
        var grain = NewScheduler(Policy);
        long lease = Granted(grain.Acquire("a"));
        Clock.Advance(TimeSpan.FromSeconds(10));
        Granted(grain.Acquire("b"));

        Clock.StepBack(TimeSpan.FromHours(1));
        grain.Tick();

        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(lease).Kind);
        Rejected(grain.Acquire("c"), RejectionReason.TimedOut); // both grants of the window stay spent
        // Back at the moment of the grant plus 29 s by the clock of record: still held; at 30 s, expired.
        Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(19));
        grain.Tick();
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(lease).Kind);
        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Tick();
        Assert.NotEqual(RequestStatusKind.Held, grain.GetStatus(lease).Kind);
        Assert.Equal(1, grain.GetStats().Expired);
    }

    [Fact]
    public void AClockSteppedForwardIsTimePassingAndNoWindowHoldsMoreThanItsBudget()
    {
        var grain = NewScheduler(Policy);
        var grants = new List<DateTimeOffset>();
        for (int i = 0; i < 3; i++)
        {
            if (grain.Acquire("a" + i).Outcome == AcquireOutcome.Granted)
                grants.Add(Clock.GetUtcNow());
        }

        Clock.Advance(TimeSpan.FromHours(1)); // a step forward: by the clock of record, an hour passed
        grain.Tick();
        for (int i = 0; i < 3; i++)
        {
            if (grain.Acquire("b" + i).Outcome == AcquireOutcome.Granted)
                grants.Add(Clock.GetUtcNow());
        }

        Assert.Equal(4, grants.Count);
        foreach (var start in grants)
            Assert.True(grants.Count(g => g >= start && g < start + Policy.Window) <= 2, "a window held more than its budget");
        Assert.Equal(2, grain.GetStats().Expired); // the first two leases' TTL passed by the clock of record
    }
}
