using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public abstract class SchedulerTestBase
{
    protected readonly ManualClock Clock = new();

    protected ResourceScheduler NewScheduler(ResourcePolicy policy) => new("test-resource", policy, Clock);

    protected static List<ResourceEvent> Drain(ResourceScheduler grain)
    {
        var events = grain.Events.ToList();
        grain.ClearEvents();
        return events;
    }

    protected static long Granted(AcquireResult result)
    {
        Assert.True(result.Outcome == AcquireOutcome.Granted, $"expected a grant, got {result}");
        return result.RequestId;
    }

    protected static long Queued(AcquireResult result)
    {
        Assert.True(result.Outcome == AcquireOutcome.Queued, $"expected a ticket, got {result}");
        return result.RequestId;
    }

    protected static Rejection Rejected(AcquireResult result, RejectionReason reason)
    {
        Assert.True(result.Outcome == AcquireOutcome.Rejected, $"expected a rejection, got {result}");
        Assert.Equal(reason, result.Rejection.Reason);
        return result.Rejection;
    }

    /// <summary>The ids granted by the events, in order.</summary>
    protected static List<long> GrantsIn(IEnumerable<ResourceEvent> events) =>
        events.Where(e => e.Kind == ResourceEventKind.Granted).Select(e => e.RequestId).ToList();
}
