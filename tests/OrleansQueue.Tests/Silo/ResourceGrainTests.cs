using OrleansQueue.Contracts;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Persistence;
using OrleansQueue.Silo.Storage;

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
        Assert.Equal(RequestPhase.Held, (await grain.Acquire(Tenant, new AcquireBody("a"), null)).Value!.State);
        using var observer = new RecordingObserver(host.Grains);
        var ticket = (await grain.Acquire(Tenant, new AcquireBody("b"), observer.Reference)).Value!;
        Assert.Equal(RequestPhase.Waiting, ticket.State);

        host.Clock.Advance(TimeSpan.FromSeconds(9));
        await grain.Stats(Tenant); // a turn after the clock moved: had the timer fired early, its grant would be pushed by now
        Assert.False(observer.TryNext(out _));
        host.Clock.Advance(TimeSpan.FromSeconds(1));

        var update = await observer.NextAsync();
        Assert.Equal(RequestPhase.Granted, update.Phase);
        Assert.Equal(ticket.Id, update.Id);
    }

    [Fact]
    public async Task AnIdleGrainDeactivatesGivesUpItsClaimAndComesBackFromTheStoreOnTheNextCall()
    {
        await using var host = await GrainHost.StartAsync(idleTimeoutSeconds: 60);
        await host.DefineAsync("idle", new ResourcePolicy { MaxConcurrent = 1 });
        var grain = host.Resource("idle");
        var lease = (await grain.Acquire(Tenant, new AcquireBody("a", IdempotencyKey: "once"), null)).Value!;
        await grain.Release(Tenant, lease.Id, new ReleaseBody());
        Assert.Equal(1, host.Live.Count);

        host.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.True(SpinWait.SpinUntil(() => host.Live.Count == 0, Generous), "the idle grain stayed active");
        Assert.True(SpinWait.SpinUntil(() => host.Store.ListOwnedAsync(CancellationToken.None).Result.Count == 0, Generous), "the claim was kept");
        var replay = (await grain.Acquire(Tenant, new AcquireBody("a", IdempotencyKey: "once"), null)).Value!;
        Assert.Equal(lease.Id, replay.Id);
        Assert.Equal(1, host.Live.Count);
    }

    [Fact]
    public async Task AGrainWithALeaseStaysActive()
    {
        await using var host = await GrainHost.StartAsync(idleTimeoutSeconds: 60);
        await host.DefineAsync("busy", new ResourcePolicy { LeaseTtl = TimeSpan.FromHours(1) });
        var grain = host.Resource("busy");
        await grain.Acquire(Tenant, new AcquireBody("a"), null);

        host.Clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(1, (await grain.Stats(Tenant)).Value!.Leases);
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
        await grain.Stats(Tenant);
        int before = store.Commits;

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate;
        var first = grain.Acquire(Tenant, new AcquireBody("a"), null);
        Assert.True(SpinWait.SpinUntil(() => store.Waiting, Generous), "the first commit never started");
        var rest = Enumerable.Range(0, 50).Select(i => grain.Acquire(Tenant, new AcquireBody("c" + i), null)).ToList();
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
        var lease = (await grain.Acquire(Tenant, new AcquireBody("a"), null)).Value!;
        using var observer = new RecordingObserver(host.Grains);
        var waiter = (await grain.Acquire(Tenant, new AcquireBody("b"), observer.Reference)).Value!;

        // Another owner claims the resource (as a second activation elsewhere would) while this one still runs.
        var intruder = (await host.Store.ClaimAsync("stale", "another-silo", CancellationToken.None))!;
        var refused = await grain.Release(Tenant, lease.Id, new ReleaseBody());

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

    /// <summary>An in-memory store that counts commits and can hold one back.</summary>
    private sealed class CountingStore : IGrainStore
    {
        private readonly InMemoryGrainStore _inner = new();
        public int Commits;
        public volatile bool Waiting;
        public TaskCompletionSource? Gate;

        public async Task CommitAsync(string name, long epoch, GrainChanges changes, CancellationToken ct)
        {
            Interlocked.Increment(ref Commits);
            if (Gate is { } gate)
            {
                Gate = null;
                Waiting = true;
                await gate.Task;
            }
            await _inner.CommitAsync(name, epoch, changes, ct);
        }

        public Task InitializeAsync(CancellationToken ct) => _inner.InitializeAsync(ct);
        public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken ct) => _inner.ListResourcesAsync(ct);
        public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken ct) => _inner.GetResourceAsync(name, ct);
        public Task<bool> PutResourceAsync(ResourceDefinition d, CancellationToken ct) => _inner.PutResourceAsync(d, ct);
        public Task<bool> DeleteResourceAsync(string name, CancellationToken ct) => _inner.DeleteResourceAsync(name, ct);
        public Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken ct) => _inner.ClaimAsync(name, owner, ct);
        public Task ReleaseAsync(string name, long epoch, CancellationToken ct) => _inner.ReleaseAsync(name, epoch, ct);
        public Task HeartbeatAsync(string owner, long aliveAt, CancellationToken ct) => _inner.HeartbeatAsync(owner, aliveAt, ct);
        public Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken ct) => _inner.ListOwnedAsync(ct);
        public Task PingAsync(CancellationToken ct) => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
