using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>What the dashboard reads of a scheduler: recent events with reasons, a timeline, leases and jobs.</summary>
public sealed class ActivityTests : SchedulerTestBase
{
    [Fact]
    public void EveryKindOfEndIsRecordedNewestFirstWithItsReason()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, MaxQueuedPerClient = 1, LeaseTtl = TimeSpan.FromSeconds(30), ClaimWindow = TimeSpan.FromSeconds(5) });
        long held = Granted(grain.Acquire("a"));
        Queued(grain.Acquire("b", maxWait: TimeSpan.FromSeconds(10)));
        Rejected(grain.Acquire("b"), RejectionReason.ClientQuotaExceeded);
        Clock.Advance(TimeSpan.FromSeconds(11)); // b times out
        grain.Tick();
        Clock.Advance(TimeSpan.FromSeconds(20)); // a's lease expires
        grain.Tick();

        var events = grain.GetRecentActivity();
        Assert.Equal([ActivityKind.Expired, ActivityKind.TimedOut, ActivityKind.Rejected, ActivityKind.Granted], events.Select(e => e.Kind));
        Assert.Equal(held, events[0].RequestId);
        Assert.Equal("a", events[0].ClientId);
        Assert.Equal(RejectionReason.TimedOut, events[1].Reason);
        Assert.EndsWith("within its maximum wait of 10 s.", events[1].Detail); // as people read durations, not "00:00:10"
        Assert.Equal(RejectionReason.ClientQuotaExceeded, events[2].Reason);
        Assert.Contains("MaxQueuedPerClient", events[2].Detail);
        Assert.Equal("b", events[2].ClientId);
    }

    [Fact]
    public void OnlyTheLatestEventsAreKept()
    {
        var grain = NewScheduler(new ResourcePolicy());
        for (int i = 0; i < 250; i++)
            grain.Release(Granted(grain.Acquire("c" + i)));
        var events = grain.GetRecentActivity();
        Assert.Equal(200, events.Count);
        Assert.Equal("c249", events[0].ClientId);
        Assert.Equal("c50", events[^1].ClientId);
    }

    [Fact]
    public void TheTimelineCountsGrantsRefusalsAndExpiriesPerSliceAndForgetsOldSlices()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 2, LeaseTtl = TimeSpan.FromSeconds(2), ClaimWindow = TimeSpan.FromSeconds(1), MaxQueueLength = 0 });
        var slice = ResourceScheduler.ActivityBucketLength;
        Granted(grain.Acquire("a"));
        Granted(grain.Acquire("a"));
        Rejected(grain.Acquire("a"), RejectionReason.QueueFull);
        Clock.Advance(slice); // both leases expire in the next slice
        grain.Tick();

        var timeline = grain.GetTimeline();
        Assert.Equal(72, timeline.Count);
        Assert.Equal(new[] { 2L, 1, 0 }, new[] { timeline[^2].Granted, timeline[^2].Rejected, timeline[^2].Expired });
        Assert.Equal(new[] { 0L, 0, 2 }, new[] { timeline[^1].Granted, timeline[^1].Rejected, timeline[^1].Expired });
        Assert.Equal(slice, timeline[^1].Start - timeline[^2].Start);
        Assert.True(timeline[^1].Start <= Clock.GetUtcNow() && Clock.GetUtcNow() < timeline[^1].Start + slice);
        Assert.Equal(2 / (slice + (Clock.GetUtcNow() - timeline[^1].Start)).TotalSeconds, grain.GetStats().GrantsPerSecond, 6);

        Clock.Advance(slice * 72); // every slice of the window has passed
        Assert.All(grain.GetTimeline(), b => Assert.Equal((0L, 0L, 0L), (b.Granted, b.Rejected, b.Expired)));
        Assert.Equal(0, grain.GetStats().GrantsPerSecond);
    }

    [Fact]
    public void LeasesAreListedOldestFirstWithTheirExpiryAndWhetherClaimed()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 2, LeaseTtl = TimeSpan.FromSeconds(60), ClaimWindow = TimeSpan.FromSeconds(5) });
        var start = Clock.GetUtcNow();
        long first = Granted(grain.Acquire("a", load: 3, priority: Priority.High));
        long second = Granted(grain.Acquire("b"));
        long waiting = Queued(grain.Acquire("c"));
        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Release(first); // c is granted (pushed, not yet claimed)

        var leases = grain.GetLeases(10);
        Assert.Equal([second, waiting], leases.Select(l => l.Id));
        Assert.True(leases[0].Claimed);
        Assert.Equal(start + TimeSpan.FromSeconds(60), leases[0].ExpiresAt);
        Assert.False(leases[1].Claimed);
        Assert.Equal(start + TimeSpan.FromSeconds(6), leases[1].ExpiresAt);
        Assert.Single(grain.GetLeases(1));
    }

    /// <summary>Whatever the holder of a pushed grant sends next claims it: a report as a renewal does (and a release ends it).</summary>
    [Fact]
    public void AReportNamingAPushedGrantClaimsItForALeaseTtl()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, LeaseTtl = TimeSpan.FromSeconds(60), ClaimWindow = TimeSpan.FromSeconds(5) });
        long first = Granted(grain.Acquire("a"));
        long pushed = Queued(grain.Acquire("b"));
        grain.Release(first);
        Assert.False(grain.GetLeases(1).Single().Claimed);

        Clock.Advance(TimeSpan.FromSeconds(2));
        grain.ReportUpstream(new UpstreamReport(Status: 200), pushed);

        var lease = grain.GetLeases(1).Single();
        Assert.True(lease.Claimed);
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(60), lease.ExpiresAt);
        Clock.Advance(TimeSpan.FromSeconds(10)); // past the claim window: still held
        Assert.Equal(RequestStatusKind.Held, grain.GetStatus(pushed).Kind);
    }

    [Fact]
    public void JobsAreListedRunningFirstThenQueuedThenDeadLettered()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 5, JobMaxAttempts = 1 });
        long failed = grain.EnqueueJob("a", "{}").RequestId;
        long running = grain.EnqueueJob("a", "{}").RequestId;
        Assert.Equal(failed, grain.TakeJob("w").Job!.Id);
        grain.FailJob(failed, "w", "boom");
        Assert.Equal(running, grain.TakeJob("w").Job!.Id);
        long queued = grain.EnqueueJob("b", "{}").RequestId;

        var jobs = grain.GetJobs(10);
        Assert.Equal([running, queued, failed], jobs.Select(j => j.Id));
        Assert.Equal([JobState.Running, JobState.Queued, JobState.DeadLettered], jobs.Select(j => j.State));
        var dead = grain.GetRecentActivity().Single(e => e.Kind == ActivityKind.DeadLettered);
        Assert.Equal(failed, dead.RequestId);
        Assert.Equal("boom", dead.Detail);
    }
}

public sealed class DurationTextTests
{
    [Theory]
    [InlineData(0, "0 ms")]
    [InlineData(250, "250 ms")]
    [InlineData(0.5, "0.5 ms")]
    [InlineData(1_000, "1 s")]
    [InlineData(1_500, "1.5 s")]
    [InlineData(60_000, "1 min")]
    [InlineData(330_000, "5 min 30 s")]
    [InlineData(3_600_000, "1 h")]
    [InlineData(9_000_000, "2 h 30 min")]
    [InlineData(86_400_000, "1 d")]
    [InlineData(-1_000, "minus 1 s")]
    public void ADurationReadsAsPeopleWriteIt(double milliseconds, string text) =>
        Assert.Equal(text, OrleansQueue.Scheduling.Internals.DurationText.Of(TimeSpan.FromMilliseconds(milliseconds)));
}
