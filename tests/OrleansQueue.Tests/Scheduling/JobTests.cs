using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

public sealed class JobTests : SchedulerTestBase
{
    private static readonly ResourcePolicy Policy = new()
    {
        MaxConcurrent = 1, JobVisibilityTimeout = TimeSpan.FromSeconds(10), JobMaxAttempts = 3,
        JobRetryDelay = TimeSpan.FromSeconds(1), JobRetention = TimeSpan.FromMinutes(5),
    };

    private long Enqueue(ResourceScheduler grain, string client, Priority priority = Priority.Normal, string payload = "{}")
    {
        var result = grain.EnqueueJob(client, payload, priority: priority);
        Assert.True(result.Outcome == AcquireOutcome.Queued, $"expected a queued job, got {result}");
        return result.RequestId;
    }

    private static JobStatus Take(ResourceScheduler grain, string worker = "w1")
    {
        var taken = grain.TakeJob(worker);
        Assert.NotNull(taken.Job);
        return taken.Job;
    }

    [Fact]
    public void AWaitingWorkerIsHandedAJobTheMomentItIsEnqueued()
    {
        var grain = NewScheduler(Policy);
        var poll = grain.TakeJob("w1", wait: TimeSpan.FromSeconds(30));
        Assert.Null(poll.Job);

        long job = Enqueue(grain, "caller", payload: "{\"prompt\":\"hi\"}");

        var assigned = Assert.Single(Drain(grain), e => e.Kind == ResourceEventKind.JobAssigned);
        Assert.Equal(poll.PollId, assigned.RequestId);
        Assert.Equal(job, assigned.JobId);
        var status = grain.GetJob(job)!;
        Assert.Equal(JobState.Running, status.State);
        Assert.Equal("w1", status.WorkerId);
        Assert.Equal("{\"prompt\":\"hi\"}", status.Payload);
        Assert.Equal(1, status.Attempts);
    }

    [Fact]
    public void AWorkerWithNothingToDoAndNoWaitGetsNothing()
    {
        var grain = NewScheduler(Policy);
        var taken = grain.TakeJob("w1");
        Assert.Null(taken.Job);
        Assert.Equal(0, taken.PollId);
        Assert.Equal(0, grain.GetStats().Jobs.WaitingWorkers);
    }

    [Fact]
    public void JobsAreHandedOutInPriorityThenFairOrder()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 10 });
        long a1 = Enqueue(grain, "a"), a2 = Enqueue(grain, "a"), a3 = Enqueue(grain, "a");
        long b1 = Enqueue(grain, "b"), b2 = Enqueue(grain, "b");
        long urgent = Enqueue(grain, "c", Priority.High);

        var order = Enumerable.Range(0, 6).Select(_ => Take(grain).Id).ToList();

        Assert.Equal([urgent, a1, b1, a2, b2, a3], order);
    }

    [Fact]
    public void ATakeOfSeveralHandsOutAsManyJobsAsTheBudgetAllowsInOrderAfterWorkersAlreadyWaiting()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 4 });
        var waiting = grain.TakeJob("early", TimeSpan.FromSeconds(30));
        long a1 = Enqueue(grain, "a"), a2 = Enqueue(grain, "a"), b1 = Enqueue(grain, "b");
        long urgent = Enqueue(grain, "c", Priority.High), a3 = Enqueue(grain, "a");
        // The worker that waited got the first job (a1, alone then); the next three fit the budget left.
        Assert.Contains(Drain(grain), e => e.Kind == ResourceEventKind.JobAssigned && e.RequestId == waiting.PollId && e.JobId == a1);

        var taken = grain.TakeJob("batch", TimeSpan.FromSeconds(30), max: 10);

        Assert.Equal([urgent, b1, a2], taken.Jobs.Select(j => j.Id));
        Assert.Equal(0, taken.PollId); // jobs came, so no wait
        Assert.All(taken.Jobs, j => Assert.Equal(("batch", JobState.Running, 1), (j.WorkerId, j.State, j.Attempts)));
        Assert.Equal(JobState.Queued, grain.GetJob(a3)!.State);
        Assert.Equal(0, grain.GetStats().Jobs.WaitingWorkers);
    }

    [Fact]
    public void ATakeOfSeveralWaitsForOneWhenNoneIsQueuedAndRefusesAMaximumOutOfRange()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 4 });
        var poll = grain.TakeJob("batch", TimeSpan.FromSeconds(30), max: 5);
        Assert.Empty(poll.Jobs);
        Assert.NotEqual(0, poll.PollId);

        Assert.Throws<ArgumentOutOfRangeException>(() => grain.TakeJob("w", max: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => grain.TakeJob("w", max: ResourceScheduler.MaxJobsPerTake + 1));
    }

    [Fact]
    public void AJobIsHandedOutOnlyWhenTheBudgetAllows()
    {
        var grain = NewScheduler(Policy);
        long lease = Granted(grain.Acquire("someone"));
        Enqueue(grain, "caller");

        Assert.Null(grain.TakeJob("w1").Job);
        var poll = grain.TakeJob("w1", TimeSpan.FromSeconds(30));
        grain.Release(lease);

        Assert.Contains(Drain(grain), e => e.Kind == ResourceEventKind.JobAssigned && e.RequestId == poll.PollId);
    }

    [Fact]
    public void JobsWithoutAWorkerDoNotHoldUpAcquiresButCompeteByPriorityWhenOneWaits()
    {
        var grain = NewScheduler(Policy);
        long held = Granted(grain.Acquire("x"));
        Enqueue(grain, "caller", Priority.High);
        long ticket = Queued(grain.Acquire("y"));

        grain.Release(held);
        Assert.Equal([ticket], GrantsIn(Drain(grain))); // no worker: the job cannot run, the acquire goes

        long next = Queued(grain.Acquire("z"));
        var poll = grain.TakeJob("w1", TimeSpan.FromSeconds(30));
        grain.Release(ticket);
        var events = Drain(grain);
        Assert.Contains(events, e => e.Kind == ResourceEventKind.JobAssigned && e.RequestId == poll.PollId); // High beats Normal
        Assert.Equal(RequestStatusKind.Waiting, grain.GetStatus(next).Kind);
    }

    [Fact]
    public void ACompletionIsAcceptedOnceAndOnlyFromTheWorkerHoldingTheJob()
    {
        var grain = NewScheduler(Policy);
        long job = Enqueue(grain, "caller");
        Take(grain, "w1");

        Assert.Equal(JobOutcome.NotYours, grain.CompleteJob(job, "w2", "stolen"));
        Assert.Equal(JobOutcome.Ok, grain.CompleteJob(job, "w1", "42"));
        Assert.Equal(JobOutcome.Ok, grain.CompleteJob(job, "w1", "43"));

        var status = grain.GetJob(job)!;
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("42", status.Result);
        var stats = grain.GetStats();
        Assert.Equal(1, stats.Jobs.Completed);
        Assert.Equal(0, stats.Leases);
    }

    [Fact]
    public void AFailedJobRetriesWithExponentialBackoffAtTheHeadOfItsQueueThenIsDeadLettered()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 5 });
        long job = Enqueue(grain, "caller");
        Take(grain);
        long later = Enqueue(grain, "caller");

        Assert.Equal(JobOutcome.Ok, grain.FailJob(job, "w1", "boom 1"));
        Assert.Equal(JobState.Retrying, grain.GetJob(job)!.State);
        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Tick();
        Assert.Equal(job, Take(grain).Id); // back ahead of the job queued after it

        grain.FailJob(job, "w1", "boom 2");
        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Tick();
        Assert.Equal(JobState.Retrying, grain.GetJob(job)!.State); // the second backoff is two seconds
        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Tick();
        var third = Take(grain);
        Assert.Equal(job, third.Id);
        Assert.Equal(3, third.Attempts);

        grain.FailJob(job, "w1", "boom 3");

        var status = grain.GetJob(job)!;
        Assert.Equal(JobState.DeadLettered, status.State);
        Assert.Equal("boom 3", status.Error);
        Assert.Equal(JobState.Queued, grain.GetJob(later)!.State);
        Assert.Equal(1, grain.GetStats().Jobs.DeadLettered);
    }

    [Fact]
    public void AJobWhoseWorkerFallsSilentReturnsToTheHeadOfTheQueueAndHeartbeatsKeepItAway()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 5 });
        long job = Enqueue(grain, "caller");
        Take(grain, "silent");
        long later = Enqueue(grain, "caller");

        Clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(JobOutcome.Ok, grain.Heartbeat(job, "silent"));
        Clock.Advance(TimeSpan.FromSeconds(9));
        grain.Tick();
        Assert.Equal(JobState.Running, grain.GetJob(job)!.State);

        Clock.Advance(TimeSpan.FromSeconds(1));
        grain.Tick();

        Assert.Equal(JobState.Queued, grain.GetJob(job)!.State);
        Assert.Equal(JobOutcome.NotYours, grain.CompleteJob(job, "silent", "too late"));
        var retaken = Take(grain, "w2");
        Assert.Equal(job, retaken.Id);
        Assert.Equal(2, retaken.Attempts);
        Assert.Equal(1, grain.GetStats().Jobs.Recovered);
        Assert.Equal(JobState.Queued, grain.GetJob(later)!.State);
    }

    [Fact]
    public void ProgressIsRecordedAndAnnounced()
    {
        var grain = NewScheduler(Policy);
        long job = Enqueue(grain, "caller");
        Take(grain);
        Drain(grain);

        Assert.Equal(JobOutcome.Ok, grain.ReportProgress(job, "w1", 0.5, "half way"));

        Assert.Contains(Drain(grain), e => e.Kind == ResourceEventKind.JobChanged && e.RequestId == job);
        var status = grain.GetJob(job)!;
        Assert.Equal(0.5, status.Progress);
        Assert.Equal("half way", status.ProgressMessage);
    }

    [Fact]
    public void AJobNoWorkerTakesBeforeItsDeadlineIsDeadLettered()
    {
        var grain = NewScheduler(Policy);
        long job = grain.EnqueueJob("caller", "{}", deadline: TimeSpan.FromSeconds(5)).RequestId;

        Clock.Advance(TimeSpan.FromSeconds(5));
        grain.Tick();

        Assert.Equal(JobState.DeadLettered, grain.GetJob(job)!.State);
        Assert.Null(grain.TakeJob("w1").Job);
    }

    [Fact]
    public void FinishedJobsAreForgottenAfterTheirRetention()
    {
        var grain = NewScheduler(Policy);
        long job = Enqueue(grain, "caller");
        Take(grain);
        grain.CompleteJob(job, "w1", "done");

        Clock.Advance(TimeSpan.FromMinutes(5));
        grain.Tick();

        Assert.Null(grain.GetJob(job));
    }

    [Fact]
    public void AWorkersWaitEndsWithAnEventWhenNoJobCame()
    {
        var grain = NewScheduler(Policy);
        var poll = grain.TakeJob("w1", TimeSpan.FromSeconds(3));

        Clock.Advance(TimeSpan.FromSeconds(3));
        grain.Tick();

        var expired = Assert.Single(Drain(grain));
        Assert.Equal(ResourceEventKind.PollExpired, expired.Kind);
        Assert.Equal(poll.PollId, expired.RequestId);
    }

    [Fact]
    public void AJobPushedToAWaitThatIsThenCancelledGoesBackAtOnceWithoutCountingAnAttempt()
    {
        // The worker's connection went away just as the job was pushed to its wait: the push may never have reached it.
        var grain = NewScheduler(Policy);
        var gone = grain.TakeJob("w1", TimeSpan.FromSeconds(30));
        long job = Enqueue(grain, "caller");
        Assert.Contains(Drain(grain), e => e.Kind == ResourceEventKind.JobAssigned && e.RequestId == gone.PollId);

        Assert.True(grain.CancelPoll(gone.PollId));

        var status = grain.GetJob(job)!;
        Assert.Equal(JobState.Queued, status.State);
        Assert.Equal(0, status.Attempts);
        Assert.Null(status.WorkerId);
        var again = Take(grain, "w2"); // the budget it held came back with it
        Assert.Equal(job, again.Id);
        Assert.Equal(1, again.Attempts);
        Assert.False(grain.CancelPoll(gone.PollId)); // given back once
    }

    [Fact]
    public void AJobIsNotTakenBackFromAWorkerThatHasActedOnIt()
    {
        var grain = NewScheduler(Policy);
        var poll = grain.TakeJob("w1", TimeSpan.FromSeconds(30));
        long job = Enqueue(grain, "caller");
        Drain(grain);
        Assert.Equal(JobOutcome.Ok, grain.Heartbeat(job, "w1"));

        Assert.False(grain.CancelPoll(poll.PollId));

        Assert.Equal(JobState.Running, grain.GetJob(job)!.State);
        Assert.Equal(JobOutcome.Ok, grain.CompleteJob(job, "w1", "done"));
    }

    [Fact]
    public void AJobHandedBackAndRecoveredIsNotGivenBackTwice()
    {
        // A job pushed to a worker that fell silent is recovered by its visibility timeout; a late end of that wait finds nothing.
        var grain = NewScheduler(Policy);
        var poll = grain.TakeJob("w1", TimeSpan.FromSeconds(30));
        long job = Enqueue(grain, "caller");
        Drain(grain);
        Clock.Advance(TimeSpan.FromSeconds(11));
        grain.Tick();
        Assert.Equal(JobState.Queued, grain.GetJob(job)!.State);

        Assert.False(grain.CancelPoll(poll.PollId));
        Assert.Equal(1, grain.GetJob(job)!.Attempts);
    }

    [Fact]
    public void AQueuedJobCanBeCancelledButARunningOneCannot()
    {
        var grain = NewScheduler(Policy with { MaxConcurrent = 5 });
        long running = Enqueue(grain, "caller");
        Take(grain);
        long queued = Enqueue(grain, "caller");

        Assert.Equal(JobOutcome.Ok, grain.CancelJob(queued));
        Assert.Equal(JobOutcome.NotYours, grain.CancelJob(running));
        Assert.Equal(JobState.Cancelled, grain.GetJob(queued)!.State);
        Assert.Null(grain.TakeJob("w2").Job);
    }

    [Fact]
    public void AnEnqueueRetriedWithItsIdempotencyKeyAnswersTheSameJob()
    {
        var grain = NewScheduler(Policy);
        var first = grain.EnqueueJob("caller", "{}", idempotencyKey: "order-9");
        var again = grain.EnqueueJob("caller", "{}", idempotencyKey: "order-9");

        Assert.Equal(first.RequestId, again.RequestId);
        Assert.Equal(1, grain.GetStats().Jobs.Enqueued);
    }

    [Fact]
    public void JobIdsAreNotLeasesAndLeaseCallsDoNotTouchThem()
    {
        var grain = NewScheduler(Policy);
        long job = Enqueue(grain, "caller");
        Take(grain);

        Assert.Equal(LeaseOutcome.NotFound, grain.Release(job).Outcome);
        Assert.Equal(LeaseOutcome.NotFound, grain.Cancel(job).Outcome);
        Assert.Equal(RequestStatusKind.Unknown, grain.GetStatus(job).Kind);
        Assert.Equal(JobState.Running, grain.GetJob(job)!.State);
    }
}
