using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Tests.Scheduling;

public sealed class PersistenceTests : SchedulerTestBase
{
    private static readonly ResourcePolicy Policy = new()
    {
        MaxConcurrent = 2, RequestsPerWindow = 5, LoadPerWindow = 1000, Window = TimeSpan.FromMinutes(1),
        LeaseTtl = TimeSpan.FromSeconds(30), ClaimWindow = TimeSpan.FromSeconds(5), DefaultMaxWait = TimeSpan.FromMinutes(5),
    };

    private readonly StoredResourceState _store = new(Policy);
    private ResourceScheduler _grain;

    public PersistenceTests()
    {
        _grain = NewScheduler(Policy);
        _grain.TrackChanges();
    }

    private void Commit() => _store.Apply(_grain.TakeChanges());

    /// <summary>Throws the grain away, as a kill -9 would, and brings it back from what was committed.</summary>
    private void Crash(TimeSpan downtime)
    {
        Clock.Advance(downtime);
        _grain = ResourceScheduler.Restore("test-resource", _store.ToSnapshot(), Clock);
        _grain.TrackChanges();
    }

    [Fact]
    public void WaitingRequestsComeBackInTheirOriginalOrder()
    {
        long held1 = Granted(_grain.Acquire("a"));
        Granted(_grain.Acquire("a"));
        var waiting = new[] { "x", "y", "x", "z", "y" }.Select(c => Queued(_grain.Acquire(c))).ToList();
        long urgent = Queued(_grain.Acquire("z", priority: Priority.High));
        Commit();

        Crash(TimeSpan.FromSeconds(3));
        _grain.Release(held1);

        Assert.Equal([urgent], GrantsIn(Drain(_grain)));
        Assert.Equal(RequestStatusKind.Waiting, _grain.GetStatus(waiting[0]).Kind);
        Assert.Equal(6, _grain.GetStats().Waiting + _grain.GetStats().Leases - 1);
    }

    [Fact]
    public void LeasesComeBackWithTheTtlTheyHadLeftAndTheirFencingTokens()
    {
        var lease = _grain.Acquire("a");
        Clock.Advance(TimeSpan.FromSeconds(10));
        Commit();

        Crash(TimeSpan.FromMinutes(2));

        var status = _grain.GetStatus(lease.RequestId);
        Assert.Equal(RequestStatusKind.Held, status.Kind);
        Assert.Equal(lease.FencingToken, status.FencingToken);
        Assert.Equal(Clock.GetUtcNow() + TimeSpan.FromSeconds(20), status.ExpiresAt);
        var next = _grain.Acquire("a");
        Assert.True(next.FencingToken > lease.FencingToken);
        Assert.True(next.RequestId > lease.RequestId);
    }

    [Fact]
    public void SpentWindowBudgetSurvivesARestartSoNothingIsGrantedTwice()
    {
        long a = Granted(_grain.Acquire("a", load: 600));
        _grain.Release(a, actualLoad: 700);
        long b = Granted(_grain.Acquire("a", load: 200));
        _grain.Release(b);
        Commit();

        Crash(TimeSpan.FromSeconds(20));

        Assert.Equal(100, _grain.GetStats().LoadLeftInWindow);
        Assert.Equal(AcquireOutcome.Queued, _grain.Acquire("a", load: 101).Outcome);
        // The window is real time: the spending leaves it one minute after it happened, downtime included.
        Clock.Advance(TimeSpan.FromSeconds(40));
        _grain.Tick();
        Assert.Single(GrantsIn(Drain(_grain)));
    }

    [Fact]
    public void WhatWasNotCommittedIsNotThereAfterACrash()
    {
        Granted(_grain.Acquire("a"));
        Commit();
        Granted(_grain.Acquire("b"));

        Crash(TimeSpan.Zero);

        Assert.Equal(1, _grain.GetStats().Leases);
    }

    [Fact]
    public void AnIdempotentRetryAfterARestartAnswersTheSameTicket()
    {
        Granted(_grain.Acquire("a"));
        Granted(_grain.Acquire("a"));
        var first = _grain.Acquire("c", idempotencyKey: "k-1");
        Commit();

        Crash(TimeSpan.FromSeconds(1));
        var retry = _grain.Acquire("c", idempotencyKey: "k-1");

        Assert.Equal(AcquireOutcome.Queued, retry.Outcome);
        Assert.Equal(first.RequestId, retry.RequestId);
        Assert.Equal(1, _grain.GetStats().Waiting);
    }

    [Fact]
    public void AnIdempotentAcquireRetriedNeverCountsTwice()
    {
        var first = _grain.Acquire("c", load: 10, idempotencyKey: "k");
        var again = _grain.Acquire("c", load: 10, idempotencyKey: "k");
        var otherClient = _grain.Acquire("d", load: 10, idempotencyKey: "k");

        Assert.Equal(first.RequestId, again.RequestId);
        Assert.Equal(first.FencingToken, again.FencingToken);
        Assert.NotEqual(first.RequestId, otherClient.RequestId);
        Assert.Equal(2, _grain.GetStats().Granted);

        _grain.Release(first.RequestId, idempotencyKey: "r");
        Assert.Equal(LeaseOutcome.Ok, _grain.Release(first.RequestId, idempotencyKey: "r").Outcome);
        Assert.Equal(LeaseOutcome.NotFound, _grain.Release(first.RequestId).Outcome);
        Assert.Equal(1, _grain.GetStats().Released);
    }

    /// <summary>Both slots held, a waiter behind them granted by a release and not yet claimed; committed. Returns the waiter.</summary>
    private long GrantedButNotClaimed()
    {
        long held = Granted(_grain.Acquire("a"));
        Granted(_grain.Acquire("a"));
        long waiting = Queued(_grain.Acquire("b"));
        _grain.Release(held);
        Assert.Equal([waiting], GrantsIn(Drain(_grain)));
        Commit();
        return waiting;
    }

    [Fact]
    public void AGrantNotYetClaimedComesBackStillWaitingForItsClaim()
    {
        long waiting = GrantedButNotClaimed();

        Crash(TimeSpan.FromSeconds(30));

        Assert.Equal(RequestStatusKind.Granted, _grain.GetStatus(waiting).Kind);
        Assert.True(_grain.Renew(waiting).IsOk);
    }

    /// <summary>A grant's write can land after its activation gave up on it (a store that answered late), so nobody told
    /// its waiter: whatever the stored deadline says, the waiter gets a whole claim window from the restore.</summary>
    [Fact]
    public void AGrantNotYetClaimedGetsAWholeClaimWindowFromTheRestore()
    {
        long waiting = GrantedButNotClaimed();

        Clock.Advance(TimeSpan.FromSeconds(30)); // well past its 5 s claim window, and the store says nobody was down
        _grain = ResourceScheduler.Restore("test-resource", _store.ToSnapshot() with { SavedAt = 0 }, Clock);

        Assert.Equal(RequestStatusKind.Granted, _grain.GetStatus(waiting).Kind);
        Clock.Advance(TimeSpan.FromSeconds(5));
        _grain.Tick();
        Assert.Equal(RequestStatusKind.Unknown, _grain.GetStatus(waiting).Kind); // then reclaimed, as any unclaimed grant
    }

    [Fact]
    public void ClosingRefusesEveryWaitingRequestAsDeleted()
    {
        Granted(_grain.Acquire("a"));
        Granted(_grain.Acquire("a"));
        long waiting = Queued(_grain.Acquire("b"));

        _grain.Close();

        var rejected = Assert.Single(Drain(_grain));
        Assert.Equal(waiting, rejected.RequestId);
        Assert.Equal(RejectionReason.ResourceDeleted, rejected.Rejection!.Value.Reason);
        Assert.Equal(0, _grain.GetStats().Leases);
    }

    [Fact]
    public void JobsComeBackInEveryStateWithTheirWorkersAttemptsAndResults()
    {
        _grain.UpdatePolicy(Policy with { MaxConcurrent = 5, JobRetryDelay = TimeSpan.FromSeconds(10) });
        long running = _grain.EnqueueJob("c", "run").RequestId;
        long failing = _grain.EnqueueJob("c", "fail").RequestId;
        long done = _grain.EnqueueJob("c", "done").RequestId;
        Assert.Equal(running, _grain.TakeJob("w1").Job!.Id);
        Assert.Equal(failing, _grain.TakeJob("w2").Job!.Id);
        Assert.Equal(done, _grain.TakeJob("w3").Job!.Id);
        _grain.FailJob(failing, "w2", "boom");
        _grain.CompleteJob(done, "w3", "42");
        long queuedA = _grain.EnqueueJob("a", "qa").RequestId;
        long queuedB = _grain.EnqueueJob("b", "qb").RequestId;
        Commit();

        Crash(TimeSpan.FromSeconds(3));

        Assert.Equal(JobState.Running, _grain.GetJob(running)!.State);
        Assert.Equal(JobOutcome.Ok, _grain.Heartbeat(running, "w1"));
        Assert.Equal(JobState.Retrying, _grain.GetJob(failing)!.State);
        Assert.Equal("42", _grain.GetJob(done)!.Result);
        Assert.Equal(queuedA, _grain.TakeJob("w4").Job!.Id);
        Assert.Equal(queuedB, _grain.TakeJob("w4").Job!.Id);
        Assert.Equal(3, _grain.GetStats().Leases);
    }
}
