using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>Budgets that learn from what the upstream answers: pauses, the upstream's remaining budget, AIMD.</summary>
public sealed class AdaptiveTests : SchedulerTestBase
{
    private static readonly UpstreamReport TooMany = new(Status: 429, RetryAfter: TimeSpan.FromSeconds(20));

    [Fact]
    public void WithAdaptiveOffReportsChangeNothing()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 5 });
        grain.ReportUpstream(TooMany);
        grain.ReportUpstream(new UpstreamReport(Requests: new UpstreamBudget(100, 0, TimeSpan.FromMinutes(1))));
        Granted(grain.Acquire("a"));
        Assert.Null(grain.GetStats().Adaptive!.PausedUntil);
    }

    [Theory]
    [InlineData(AdaptiveMode.Headers)]
    [InlineData(AdaptiveMode.Aimd)]
    public void A429WithRetryAfterPausesNewGrantsUntilThenWhileLeasesRunAndWaitersKeepTheirPlaces(AdaptiveMode mode)
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 10, Adaptive = mode, LeaseTtl = TimeSpan.FromMinutes(5), DefaultMaxWait = TimeSpan.FromMinutes(5) });
        long held = Granted(grain.Acquire("a"));
        grain.ReportUpstream(TooMany, held);
        var start = Clock.GetUtcNow();

        long first = Queued(grain.Acquire("b"));
        long second = Queued(grain.Acquire("c"));
        var refused = Rejected(grain.Acquire("d", maxWait: TimeSpan.Zero), RejectionReason.TimedOut);
        Assert.Equal(TimeSpan.FromSeconds(20), refused.RetryAfter); // the rejection says when grants resume
        Assert.Equal(start + TimeSpan.FromSeconds(20), grain.GetNextDeadline());
        Assert.Equal(start + TimeSpan.FromSeconds(20), grain.GetStats().Adaptive!.PausedUntil);
        Assert.Equal(LeaseOutcome.Ok, grain.Renew(held).Outcome); // a held lease runs on

        Clock.Advance(TimeSpan.FromSeconds(19.9));
        grain.Tick();
        Assert.Empty(GrantsIn(Drain(grain)));
        Clock.Advance(TimeSpan.FromSeconds(0.1));
        grain.Tick();
        Assert.Equal([first, second], GrantsIn(Drain(grain)));
        Assert.Null(grain.GetStats().Adaptive!.PausedUntil);
    }

    [Fact]
    public void A429WithoutRetryAfterPausesUntilTheEarliestResetOrASecond()
    {
        var grain = NewScheduler(new ResourcePolicy { Adaptive = AdaptiveMode.Headers });
        var start = Clock.GetUtcNow();
        grain.ReportUpstream(new UpstreamReport(429, Requests: new UpstreamBudget(60, 0, TimeSpan.FromSeconds(7)), Load: new UpstreamBudget(1000, 0, TimeSpan.FromSeconds(3))));
        Assert.Equal(start + TimeSpan.FromSeconds(3), grain.GetStats().Adaptive!.PausedUntil);

        Clock.Advance(TimeSpan.FromSeconds(10));
        grain.ReportUpstream(new UpstreamReport(429));
        Assert.Equal(Clock.GetUtcNow() + ResourceScheduler.DefaultPause, grain.GetStats().Adaptive!.PausedUntil);

        grain.ReportUpstream(new UpstreamReport(429, RetryAfter: TimeSpan.FromDays(3))); // nonsense: not believed
        Assert.Equal(Clock.GetUtcNow() + ResourceScheduler.DefaultPause, grain.GetStats().Adaptive!.PausedUntil);
    }

    [Fact]
    public void WithHeadersGrantsStayWithinWhatTheUpstreamSaysRemainsLessWhatIsInFlightUntilItsReset()
    {
        var grain = NewScheduler(new ResourcePolicy { RequestsPerWindow = 100, LoadPerWindow = 100_000, Adaptive = AdaptiveMode.Headers, DefaultMaxWait = TimeSpan.FromMinutes(1) });
        long reporter = Granted(grain.Acquire("a"));
        Granted(grain.Acquire("a")); // in flight: the upstream has not counted it yet
        grain.ReportUpstream(new UpstreamReport(200, Requests: new UpstreamBudget(100, 3, TimeSpan.FromSeconds(10))), reporter);

        Granted(grain.Acquire("b")); // 3 remaining - 1 in flight = 2
        Granted(grain.Acquire("b"));
        long waiting = Queued(grain.Acquire("b"));
        Assert.Equal(0, grain.GetStats().Adaptive!.UpstreamRequestsLeft);
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(10), grain.GetNextDeadline());

        Clock.Advance(TimeSpan.FromSeconds(10)); // the upstream's reset: its limit, in full, for one more span
        grain.Tick();
        Assert.Equal([waiting], GrantsIn(Drain(grain)));
        Assert.Equal(99, grain.GetStats().Adaptive!.UpstreamRequestsLeft);
        Clock.Advance(TimeSpan.FromSeconds(10)); // then the configured budget alone
        Assert.Null(grain.GetStats().Adaptive!.UpstreamRequestsLeft);
        Granted(grain.Acquire("c"));
    }

    [Fact]
    public void WithHeadersTheLoadTheUpstreamSaysRemainsBoundsTheLoadGranted()
    {
        var grain = NewScheduler(new ResourcePolicy { LoadPerWindow = 100_000, Adaptive = AdaptiveMode.Headers, DefaultMaxWait = TimeSpan.FromMinutes(1) });
        grain.ReportUpstream(new UpstreamReport(200, Load: new UpstreamBudget(100_000, 5_000, TimeSpan.FromSeconds(6))));
        Granted(grain.Acquire("a", load: 3_000));
        Queued(grain.Acquire("a", load: 3_000));
        Granted(grain.Acquire("b", load: 2_000, priority: Priority.Critical));
    }

    [Theory]
    [InlineData(-1L, 100L, 10.0)] // Azure OpenAI's "no figure"
    [InlineData(5L, 0L, 10.0)] // a limit of 0
    [InlineData(500L, 100L, 10.0)] // more remaining than the limit
    [InlineData(5L, 100L, -3.0)] // a reset in the past
    [InlineData(5L, 100L, 0.0)]
    public void FiguresThatMakeNoSenseAreIgnored(long remaining, long limit, double resetSeconds)
    {
        var grain = NewScheduler(new ResourcePolicy { Adaptive = AdaptiveMode.Headers });
        grain.ReportUpstream(new UpstreamReport(200, Requests: new UpstreamBudget(limit, remaining, TimeSpan.FromSeconds(resetSeconds))));
        Assert.Null(grain.GetStats().Adaptive!.UpstreamRequestsLeft);
        for (int i = 0; i < 10; i++)
            Granted(grain.Acquire("a"));
    }

    [Fact]
    public void WithAimdEach429LowersTheWorkingLimitsAndEachCleanWindowRaisesThemNeverAboveTheConfigured()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 10, RequestsPerWindow = 100, Window = TimeSpan.FromSeconds(10), Adaptive = AdaptiveMode.Aimd,
            AimdDecrease = 0.5, AimdIncrease = 0.2,
        });
        grain.ReportUpstream(new UpstreamReport(429, RetryAfter: TimeSpan.FromMilliseconds(1)));
        var state = grain.GetStats().Adaptive!;
        Assert.Equal((5, 50L), (state.WorkingMaxConcurrent!.Value, state.WorkingRequestsPerWindow!.Value));
        grain.ReportUpstream(new UpstreamReport(429)); // back from a call made before the pause: the same congestion
        Assert.Equal(5, grain.GetStats().Adaptive!.WorkingMaxConcurrent);
        Clock.Advance(TimeSpan.FromMilliseconds(1001)); // the pause (the default second) is over: a new 429 is new congestion
        grain.ReportUpstream(new UpstreamReport(429, RetryAfter: TimeSpan.FromMilliseconds(1)));
        Assert.Equal(2, grain.GetStats().Adaptive!.WorkingMaxConcurrent); // 10 x 0.25
        var lowered = Clock.GetUtcNow();

        Clock.Advance(TimeSpan.FromMilliseconds(1)); // the pause is over
        var leases = Enumerable.Range(0, 2).Select(_ => Granted(grain.Acquire("a"))).ToList();
        long waiting = Queued(grain.Acquire("a")); // the working limit holds it back
        Assert.Equal(lowered + TimeSpan.FromSeconds(10), grain.GetNextDeadline()); // the climb back, not never

        Clock.AdvanceTo(lowered + TimeSpan.FromSeconds(10)); // one clean window: +20 % of the configured limit
        grain.Tick();
        Assert.Equal([waiting], GrantsIn(Drain(grain)));
        Assert.Equal(0.45, grain.GetStats().Adaptive!.WorkingFactor, 6);

        Clock.Advance(TimeSpan.FromSeconds(100));
        state = grain.GetStats().Adaptive!;
        Assert.Equal(1, state.WorkingFactor);
        Assert.Equal(10, state.WorkingMaxConcurrent);
        Assert.Equal(100, state.WorkingRequestsPerWindow);
    }

    [Fact]
    public void ReportsRacingBackCanOnlyLowerWhatTheUpstreamSaysRemainsUntilItsReset()
    {
        var grain = NewScheduler(new ResourcePolicy { Adaptive = AdaptiveMode.Headers });
        grain.ReportUpstream(new UpstreamReport(200, Requests: new UpstreamBudget(20, 3, TimeSpan.FromSeconds(1))));
        grain.ReportUpstream(new UpstreamReport(200, Requests: new UpstreamBudget(20, 12, TimeSpan.FromSeconds(2)))); // older news
        var state = grain.GetStats().Adaptive!;
        Assert.Equal(3, state.UpstreamRequestsLeft);
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(2), state.UpstreamResetAt); // the later reset holds
        Clock.Advance(TimeSpan.FromSeconds(2));
        grain.ReportUpstream(new UpstreamReport(200, Requests: new UpstreamBudget(20, 12, TimeSpan.FromSeconds(2)))); // a new span
        Assert.Equal(12, grain.GetStats().Adaptive!.UpstreamRequestsLeft);
    }

    [Fact]
    public void ChangingTheModeStartsFromTheConfiguredLimits()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 10, Adaptive = AdaptiveMode.Aimd });
        grain.ReportUpstream(TooMany);
        grain.UpdatePolicy(new ResourcePolicy { MaxConcurrent = 10, Adaptive = AdaptiveMode.Headers });
        var state = grain.GetStats().Adaptive!;
        Assert.Null(state.PausedUntil);
        Assert.Equal(10, state.WorkingMaxConcurrent);
        Granted(grain.Acquire("a"));
    }

    [Fact]
    public void AThrottleIsARecentEventWithItsReason()
    {
        var grain = NewScheduler(new ResourcePolicy { Adaptive = AdaptiveMode.Headers });
        grain.ReportUpstream(TooMany);
        var throttled = Assert.Single(grain.GetRecentActivity());
        Assert.Equal(ActivityKind.Throttled, throttled.Kind);
        Assert.Contains("429", throttled.Detail);
        Assert.Equal(1, grain.GetStats().Adaptive!.Throttles);
    }
}
