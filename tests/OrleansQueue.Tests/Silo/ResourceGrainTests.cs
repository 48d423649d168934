using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using JobState = OrleansQueue.Contracts.JobState;
using Priority = OrleansQueue.Contracts.Priority;
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Silo;

/// <summary>The resource grain on Orleans, its schedulers on a manual clock: timers fire exactly when the clock passes them.</summary>
public sealed class ResourceGrainTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private static readonly Caller Tenant = new("t", IsAdmin: false);

    [Fact]
    public async Task TheDeadlineTimerGrantsAWaitingRequestWhenRateBudgetComesBack()
    {
        await using var host = await GrainHost.StartAsync();
        await host.DefineAsync("timed", new ResourcePolicy { RequestsPerWindow = 1, Window = TimeSpan.FromSeconds(10), DefaultMaxWait = TimeSpan.FromMinutes(5) });
        var grain = host.Resource("timed");
        Assert.Equal(RequestPhase.Held, (await grain.Requests.Acquire(Tenant, new AcquireBody("a"), null)).Value!.State);
        using var observer = new RecordingObserver(host.Grains);
        var ticket = (await grain.Requests.Acquire(Tenant, new AcquireBody("b"), observer.Reference)).Value!;
        Assert.Equal(RequestPhase.Waiting, ticket.State);

        host.Clock.Advance(TimeSpan.FromSeconds(9));
        await grain.Administration.Stats(Tenant); // a turn after the clock moved: had the timer fired early, its grant would be pushed by now
        Assert.False(observer.TryNext(out _));
        host.Clock.Advance(TimeSpan.FromSeconds(1));

        var update = await observer.NextAsync();
        Assert.Equal(RequestPhase.Granted, update.Phase);
        Assert.Equal(ticket.Id, update.Id);
    }

    [Fact]
    public async Task AJobPushedToAWorkerWhoseWaitIsThenCancelledIsHandedToTheNextWorkerAtOnce()
    {
        await using var host = await GrainHost.StartAsync();
        await host.DefineAsync("handback", new ResourcePolicy { MaxConcurrent = 1, JobVisibilityTimeout = TimeSpan.FromMinutes(5) });
        var grain = host.Resource("handback");
        var admin = new Caller("t", IsAdmin: true);
        using var gone = new RecordingObserver(host.Grains);
        long poll = (await grain.Jobs.TakeJob(admin, "w1", 1, TimeSpan.FromSeconds(30), gone.Reference)).PollId;
        Assert.NotEqual(0, poll);
        var job = (await grain.Jobs.Enqueue(Tenant, new EnqueueBody(System.Text.Json.JsonDocument.Parse("{}").RootElement, "c"))).Value!;
        Assert.Equal(RequestPhase.JobAssigned, (await gone.NextAsync()).Phase); // pushed, but its worker's connection is gone

        await grain.Jobs.CancelPoll(poll);

        using var next = new RecordingObserver(host.Grains);
        var taken = Assert.Single((await grain.Jobs.TakeJob(admin, "w2", 1, TimeSpan.Zero, next.Reference)).Outcome.Value!);
        Assert.Equal(job.Id, taken.Id);
        Assert.Equal(1, taken.Attempts);
    }

    [Fact]
    public async Task AnIdleGrainDeactivatesGivesUpItsClaimAndComesBackFromTheStoreOnTheNextCall()
    {
        await using var host = await GrainHost.StartAsync(idleTimeoutSeconds: 60);
        await host.DefineAsync("idle", new ResourcePolicy { MaxConcurrent = 1 });
        var grain = host.Resource("idle");
        var lease = (await grain.Requests.Acquire(Tenant, new AcquireBody("a", IdempotencyKey: "once"), null)).Value!;
        await grain.Requests.Release(Tenant, lease.Id, new ReleaseBody());
        Assert.Equal(1, host.Live.Count);

        host.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the idle grain stayed active");
        Assert.True(SpinWait.SpinUntil(() => host.Store.ListOwnedAsync(CancellationToken.None).Result.Count == 0, Generous), "the claim was kept");
        var replay = (await grain.Requests.Acquire(Tenant, new AcquireBody("a", IdempotencyKey: "once"), null)).Value!;
        Assert.Equal(lease.Id, replay.Id);
        Assert.Equal(1, host.Live.Count);
    }

    [Fact]
    public async Task AGrainWithALeaseStaysActive()
    {
        await using var host = await GrainHost.StartAsync(idleTimeoutSeconds: 60);
        await host.DefineAsync("busy", new ResourcePolicy { LeaseTtl = TimeSpan.FromHours(1) });
        var grain = host.Resource("busy");
        await grain.Requests.Acquire(Tenant, new AcquireBody("a"), null);

        host.Clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(1, (await grain.Administration.Stats(Tenant)).Value!.Leases);
        Assert.Equal(1, host.Live.Count);
        Assert.Single(await host.Store.ListOwnedAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CallsThatArriveDuringACommitShareTheNextOne()
    {
        var store = new CountingStore();
        await using var host = await GrainHost.StartAsync(store);
        await host.DefineAsync("batched", new ResourcePolicy());
        var grain = host.Resource("batched");
        await grain.Administration.Stats(Tenant);
        int before = store.Commits;

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate;
        var first = grain.Requests.Acquire(Tenant, new AcquireBody("a"), null);
        Assert.True(SpinWait.SpinUntil(() => store.Waiting, Generous), "the first commit never started");
        var rest = Enumerable.Range(0, 50).Select(i => grain.Requests.Acquire(Tenant, new AcquireBody("c" + i), null)).ToList();
        Assert.DoesNotContain(rest, r => r.IsCompleted); // none may answer before the commit that holds it
        gate.SetResult();
        var all = await Task.WhenAll(rest.Append(first)).WaitAsync(Generous);

        Assert.All(all, a => Assert.Equal(RequestPhase.Held, a.Value!.State));
        Assert.Equal(2, store.Commits - before); // the first call's, then one for the fifty that gathered behind it
    }

    [Fact]
    public async Task AStaleActivationIsRefusedByTheStoreAndAnnouncesNothingOfTheRefusedBatch()
    {
        await using var host = await GrainHost.StartAsync();
        await host.DefineAsync("stale", new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5) });
        var grain = host.Resource("stale");
        var lease = (await grain.Requests.Acquire(Tenant, new AcquireBody("a"), null)).Value!;
        using var observer = new RecordingObserver(host.Grains);
        var waiter = (await grain.Requests.Acquire(Tenant, new AcquireBody("b"), observer.Reference)).Value!;

        // Another owner claims the resource (as a second activation elsewhere would) while this one still runs.
        var intruder = (await host.Store.ClaimAsync("stale", "another-silo", CancellationToken.None))!;
        var refused = await grain.Requests.Release(Tenant, lease.Id, new ReleaseBody());

        Assert.Equal("urn:orleansqueue:problem:moved", refused.Problem!.Type);
        Assert.Equal(503, refused.Problem.Status);
        // The release would have granted the waiter: it must not have been announced. What the observer may hear is
        // only that the grain left (moved), never a grant.
        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the stale activation stayed");
        while (observer.TryNext(out var update))
            Assert.Equal(RequestPhase.Moved, update!.Phase);
        var state = (await host.Store.ClaimAsync("stale", "third-silo", CancellationToken.None))!;
        Assert.True(state.Epoch > intruder.Epoch);
        Assert.Equal(2, state.Snapshot.Requests.Count); // the lease and the waiter, as committed before the intruder's claim
        Assert.DoesNotContain(state.Snapshot.Requests, r => r.Id == waiter.Id && r.State == RequestStatusKind.Held);
    }

    /// <summary>
    /// A second activation (played here by a scheduler restored from its own claim, as another silo's would be) takes the
    /// resource and commits tickets the first has never heard of. The first, still running, is asked about them with each
    /// call that changes nothing when the id is unknown: every answer is "moved" (retryable), never "unknown-request", and
    /// the next call, on a fresh activation, finds the ticket.
    /// </summary>
    [Fact]
    public async Task ADeposedActivationAnswersMovedNeverUnknownAboutRequestsOnlyTheNewOwnerKnows()
    {
        await using var host = await GrainHost.StartAsync();
        await host.DefineAsync("deposed", new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(10) });
        var grain = host.Resource("deposed");
        await grain.Requests.Acquire(Tenant, new AcquireBody("holder"), null); // the only slot is held: the second owner's tickets wait
        using var observer = new RecordingObserver(host.Grains);
        var asks = new (string Name, Func<long, Task<Outcome<RequestView>>> Ask)[]
        {
            ("status", id => grain.Requests.Status(Tenant, id, null)),
            ("wait", id => grain.Requests.WaitFor(Tenant, id, observer.Reference)),
            ("attach", id => grain.Requests.Attach(Tenant, id, observer.Reference)),
            ("release", id => grain.Requests.Release(Tenant, id, new ReleaseBody(IdempotencyKey: "r"))),
            ("renew", id => grain.Requests.Renew(Tenant, id)),
            ("cancel", id => grain.Requests.Cancel(Tenant, id)),
            ("report", id => grain.Requests.ReportUpstream(Tenant, id, new UpstreamBody(Status: 200))),
        };
        foreach (var (name, ask) in asks)
        {
            await grain.Administration.Stats(Tenant); // the first activation is live (after the previous round, a fresh one)
            long id = await TicketOfASecondOwnerAsync(host.Store, "deposed", host.Clock);

            var answer = await ask(id);

            Assert.True(answer.Problem is { Type: "urn:orleansqueue:problem:moved", Status: 503 },
                $"{name} of ticket {id}, known only to the new owner, answered {answer.Problem?.Type ?? answer.Value!.State.ToString()}");
            Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), $"the deposed activation stayed after {name}");
            var retried = await grain.Requests.Status(Tenant, id, null);
            Assert.Equal(RequestPhase.Waiting, retried.Value?.State);
        }
    }

    [Fact]
    public async Task AResourceFoundMissingIsLookedForAgainBeforeItIsCalledUnknown()
    {
        await using var host = await GrainHost.StartAsync();
        var grain = host.Resource("later");
        Assert.Equal("urn:orleansqueue:problem:unknown-resource", (await grain.Administration.Stats(Tenant)).Problem!.Type);

        // Created behind this activation's back (through the store, as a silo that did not reach it would).
        await host.Store.PutResourceAsync(new ResourceDefinition("later", new ResourcePolicy { MaxConcurrent = 1 }), CancellationToken.None);

        Assert.Equal(RequestPhase.Held, (await grain.Requests.Acquire(Tenant, new AcquireBody("a"), null)).Value!.State);
    }

    /// <summary>
    /// The store writes the commit and then the answer is lost on the way back (the connection drops, the silo dies before it
    /// replies). The caller is told the commit is uncertain; the retry, with the same key, on the activation that follows,
    /// answers exactly what the first attempt would have.
    /// </summary>
    [Fact]
    public async Task ARetryAfterACommitWhoseAnswerWasLostAnswersWhatTheFirstAttemptDid()
    {
        var store = new CountingStore();
        await using var host = await GrainHost.StartAsync(store);
        await host.DefineAsync("lost", new ResourcePolicy { MaxConcurrent = 2, DefaultMaxWait = TimeSpan.FromMinutes(10) });
        var grain = host.Resource("lost");

        store.LoseNextAnswer = true;
        var acquired = await grain.Requests.Acquire(Tenant, new AcquireBody("a", Load: 5, Priority: Priority.High, IdempotencyKey: "acquire-1"), null);
        Assert.Equal("urn:orleansqueue:problem:unavailable", acquired.Problem?.Type);
        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the activation whose commit was uncertain stayed");
        var lease = (await grain.Requests.Acquire(Tenant, new AcquireBody("a", Load: 5, Priority: Priority.High, IdempotencyKey: "acquire-1"), null)).Value!;
        Assert.Equal(RequestPhase.Held, lease.State);
        Assert.Equal(1L, lease.FencingToken); // the one grant the first attempt made, not a second
        Assert.Equal(1, (await grain.Administration.Stats(Tenant)).Value!.Leases);

        store.LoseNextAnswer = true;
        var released = await grain.Requests.Release(Tenant, lease.Id, new ReleaseBody(ActualLoad: 3, IdempotencyKey: "release-1"));
        Assert.Equal("urn:orleansqueue:problem:unavailable", released.Problem?.Type);
        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the activation whose commit was uncertain stayed");
        var retried = (await grain.Requests.Release(Tenant, lease.Id, new ReleaseBody(ActualLoad: 3, IdempotencyKey: "release-1"))).Value!;
        Assert.Equal(lease with { State = RequestPhase.Released }, retried);
        var stranger = await grain.Requests.Release(new Caller("other", IsAdmin: false), lease.Id, new ReleaseBody(IdempotencyKey: "release-1"));
        Assert.Equal("urn:orleansqueue:problem:unknown-request", stranger.Problem?.Type);
        Assert.Equal(0, (await grain.Administration.Stats(Tenant)).Value!.Leases);

        var enqueued = await grain.Jobs.Enqueue(Tenant, new EnqueueBody(System.Text.Json.JsonDocument.Parse("{}").RootElement, "c"));
        Assert.Null(enqueued.Problem);
        using var worker = new RecordingObserver(host.Grains);
        var admin = new Caller("t", IsAdmin: true); // workers run with an admin key
        var taken = await grain.Jobs.TakeJob(admin, "w", 1, TimeSpan.Zero, worker.Reference);
        Assert.True(taken.Outcome.Value is [_], $"no job taken: {taken.Outcome.Problem}");
        var job = taken.Outcome.Value[0];
        store.LoseNextAnswer = true;
        var completion = new WorkerReport("w", Result: System.Text.Json.JsonDocument.Parse("{\"ok\":true}").RootElement);
        Assert.Equal("urn:orleansqueue:problem:unavailable", (await grain.Jobs.Report(admin, job.Id, WorkerReportKind.Complete, completion)).Problem?.Type);
        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the activation whose commit was uncertain stayed");
        var completed = (await grain.Jobs.Report(admin, job.Id, WorkerReportKind.Complete, completion)).Value!;
        Assert.Equal(JobState.Completed, completed.State);
    }

    /// <summary>Acquires a waiting ticket as a second owner would: claims the resource from the store (a new epoch) and
    /// commits the ticket under it.</summary>
    private static async Task<long> TicketOfASecondOwnerAsync(IGrainStore store, string name, TimeProvider clock)
    {
        var claimed = (await store.ClaimAsync(name, "another-silo", CancellationToken.None))!;
        var second = ResourceScheduler.Restore(name, claimed.Snapshot, clock);
        var ticket = second.Acquire(Tenant.GrainClientId("b"));
        Assert.Equal(AcquireOutcome.Queued, ticket.Outcome);
        await store.CommitAsync(name, claimed.Epoch, claimed.Sequence + 1, second.TakeChanges(), CancellationToken.None);
        return ticket.RequestId;
    }

    /// <summary>An in-memory store that counts commits and can hold one back.</summary>
    private sealed class CountingStore : IGrainStore
    {
        private readonly InMemoryGrainStore _inner = new();
        public int Commits;
        public volatile bool Waiting;
        public TaskCompletionSource? Gate;
        /// <summary>The next commit lands, and its answer is lost (the connection drops after the store wrote it).</summary>
        public volatile bool LoseNextAnswer;

        /// <summary>No: a held-back commit would let a later one reach the inner store first.</summary>
        public bool PipelinesCommits => false;

        public async Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken ct)
        {
            Interlocked.Increment(ref Commits);
            if (Gate is { } gate)
            {
                Gate = null;
                Waiting = true;
                await gate.Task;
            }
            await _inner.CommitAsync(name, epoch, sequence, changes, ct);
            if (LoseNextAnswer)
            {
                LoseNextAnswer = false;
                throw new IOException("The connection to the store dropped before its answer arrived.");
            }
        }

        public Task InitializeAsync(CancellationToken ct) => _inner.InitializeAsync(ct);
        public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken ct) => _inner.ListResourcesAsync(ct);
        public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken ct) => _inner.GetResourceAsync(name, ct);
        public Task<bool> PutResourceAsync(ResourceDefinition d, CancellationToken ct) => _inner.PutResourceAsync(d, ct);
        public Task<bool> DeleteResourceAsync(string name, CancellationToken ct) => _inner.DeleteResourceAsync(name, ct);
        public Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken ct) => _inner.ClaimAsync(name, owner, ct);
        public Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken ct) => _inner.ConfirmOwnershipAsync(name, epoch, ct);
        public Task ReleaseAsync(string name, long epoch, CancellationToken ct) => _inner.ReleaseAsync(name, epoch, ct);
        public Task HeartbeatAsync(string owner, long aliveAt, CancellationToken ct) => _inner.HeartbeatAsync(owner, aliveAt, ct);
        public Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken ct) => _inner.ListOwnedAsync(ct);
        public Task PingAsync(CancellationToken ct) => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
