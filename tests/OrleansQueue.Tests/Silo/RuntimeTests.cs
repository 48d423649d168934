using Microsoft.Extensions.Logging.Abstractions;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Persistence;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Runtime;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Tests.Silo;

/// <summary>The grain runtime on a manual clock: its timers fire exactly when the clock passes them.</summary>
public sealed class RuntimeTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly ManualClock _clock = new();
    private readonly InMemoryGrainStore _store = new();
    private readonly GrainRuntime _runtime;

    public RuntimeTests() =>
        _runtime = new GrainRuntime(_store, _clock, new SiloMetrics(), NullLogger<GrainRuntime>.Instance, idleTimeout: TimeSpan.FromMinutes(1));

    [Fact]
    public async Task TheDeadlineTimerGrantsAWaitingRequestWhenRateBudgetComesBack()
    {
        await _runtime.PutResourceAsync(new ResourceDefinition("timed", new ResourcePolicy
        {
            RequestsPerWindow = 1, Window = TimeSpan.FromSeconds(10), DefaultMaxWait = TimeSpan.FromMinutes(5),
        }));
        await _runtime.CallAsync("timed", t => t.Grain.Acquire("a"));
        var observer = new Observer();
        var ticket = await _runtime.CallAsync("timed", t =>
        {
            var result = t.Grain.Acquire("b");
            t.Subscribe(result.RequestId, observer);
            return result;
        });
        Assert.Equal(AcquireOutcome.Queued, ticket.Outcome);

        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(observer.Update.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var update = await observer.Update.WaitAsync(Generous);
        Assert.Equal(RequestPhase.Granted, update.Phase);
        Assert.Equal(ticket.RequestId, update.Id);
    }

    [Fact]
    public async Task AnIdleActivationIsDeactivatedAndComesBackFromTheStoreOnTheNextCall()
    {
        await _runtime.PutResourceAsync(new ResourceDefinition("idle", new ResourcePolicy { MaxConcurrent = 1 }));
        var lease = await _runtime.CallAsync("idle", t => t.Grain.Acquire("a", idempotencyKey: "once"));
        await _runtime.CallAsync("idle", t => t.Grain.Release(lease.RequestId));
        Assert.Single(_runtime.ActiveResources());

        _clock.Advance(TimeSpan.FromMinutes(1));

        Assert.True(SpinWait.SpinUntil(() => !_runtime.ActiveResources().Any(), Generous), "the idle activation stayed");
        var replay = await _runtime.CallAsync("idle", t => t.Grain.Acquire("a", idempotencyKey: "once"));
        Assert.Equal(lease.RequestId, replay.RequestId);
        Assert.Single(_runtime.ActiveResources());
    }

    [Fact]
    public async Task AnActivationWithALeaseIsNotDeactivated()
    {
        await _runtime.PutResourceAsync(new ResourceDefinition("busy", new ResourcePolicy { LeaseTtl = TimeSpan.FromHours(1) }));
        await _runtime.CallAsync("busy", t => t.Grain.Acquire("a"));

        _clock.Advance(TimeSpan.FromMinutes(10));

        var activation = Assert.Single(_runtime.ActiveResources());
        Assert.Equal(1, await activation.CallAsync(t => t.Grain.LeaseCount));
    }

    [Fact]
    public async Task ManyCallsInOneTurnShareOneCommit()
    {
        var store = new CountingStore();
        var runtime = new GrainRuntime(store, _clock, new SiloMetrics(), NullLogger<GrainRuntime>.Instance, TimeSpan.FromMinutes(1));
        await runtime.PutResourceAsync(new ResourceDefinition("batched", new ResourcePolicy()));
        await runtime.CallAsync("batched", t => 0);
        var activation = Assert.Single(runtime.ActiveResources());
        int before = store.Commits;

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate;
        var first = activation.CallAsync(t => t.Grain.Acquire("a"));
        Assert.True(SpinWait.SpinUntil(() => store.Waiting, Generous), "the first commit never started");
        var rest = Enumerable.Range(0, 50).Select(i => activation.CallAsync(t => t.Grain.Acquire("c" + i))).ToList();
        gate.SetResult();
        await Task.WhenAll(rest.Append(first)).WaitAsync(Generous);

        Assert.Equal(2, store.Commits - before); // the first call's turn, then one turn for the fifty that queued behind it
    }

    private sealed class Observer : IGrainObserver
    {
        private readonly TaskCompletionSource<RequestUpdate> _update = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<RequestUpdate> Update => _update.Task;
        public void OnUpdate(RequestUpdate update) => _update.TrySetResult(update);
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
        public Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken ct) => _inner.ListOwnedAsync(ct);
        public Task PingAsync(CancellationToken ct) => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
