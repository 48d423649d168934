using OrleansQueue.Scheduling;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// What every store must do. Through <see cref="StoredResources"/> (claim, restore, commit each call's changes, as the
/// grain does): an owner thrown away without shutdown (as by kill -9) and a new one over the same stored state must see
/// everything committed.
/// </summary>
public abstract class StoreConformanceTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _disposables = [];

    internal abstract Task<IGrainStore> OpenStoreAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var d in _disposables)
            await d.DisposeAsync();
    }

    private async Task<StoredResources> StartRuntimeAsync() => new(await OpenStoreAsync());

    private static ResourceDefinition Definition(string name, int maxConcurrent = 1) =>
        new(name, new ResourcePolicy { MaxConcurrent = maxConcurrent, LoadPerWindow = 1000, DefaultMaxWait = TimeSpan.FromMinutes(5) });

    [Cluster.StoreFact]
    public async Task ARestartedRuntimeFindsLeasesTicketsInOrderAndSpentBudget()
    {
        var before = await StartRuntimeAsync();
        await before.PutResourceAsync(Definition("durable"));
        var lease = await before.CallAsync("durable", t => t.Acquire("a", load: 300));
        var tickets = new List<long>();
        foreach (string client in new[] { "b", "c", "b" })
            tickets.Add((await before.CallAsync("durable", t => t.Acquire(client, load: 100))).RequestId);

        var after = await StartRuntimeAsync();

        var status = await after.CallAsync("durable", t => t.GetStatus(lease.RequestId));
        Assert.Equal(RequestStatusKind.Held, status.Kind);
        Assert.Equal(lease.FencingToken, status.FencingToken);
        var stats = await after.CallAsync("durable", t => t.GetStats());
        Assert.Equal(3, stats.Waiting);
        Assert.Equal(700, stats.LoadLeftInWindow);
        var granted = await after.CallAsync("durable", t =>
        {
            t.Release(lease.RequestId);
            return t.Events.Single(e => e.Kind == ResourceEventKind.Granted).RequestId;
        });
        Assert.Equal(tickets[0], granted);
    }

    [Cluster.StoreFact]
    public async Task APolicyChangeAndADeletionAreStored()
    {
        var before = await StartRuntimeAsync();
        await before.PutResourceAsync(Definition("changed"));
        await before.PutResourceAsync(Definition("changed", maxConcurrent: 7) with { PushEnabled = false });
        await before.PutResourceAsync(Definition("deleted"));
        await before.CallAsync("deleted", t => t.Acquire("a"));
        Assert.True(await before.DeleteResourceAsync("deleted"));

        var after = await StartRuntimeAsync();

        var changed = await after.GetResourceAsync("changed");
        Assert.Equal(7, changed!.Policy.MaxConcurrent);
        Assert.False(changed.PushEnabled);
        Assert.Null(await after.GetResourceAsync("deleted"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => after.CallAsync("deleted", t => t.GetStats()));
        Assert.DoesNotContain(await after.ListResourcesAsync(), r => r.Name == "deleted");
    }

    [Cluster.StoreFact]
    public async Task AnIdempotencyKeyOutlivesARestart()
    {
        var before = await StartRuntimeAsync();
        await before.PutResourceAsync(Definition("keys"));
        var first = await before.CallAsync("keys", t => t.Acquire("a", idempotencyKey: "k"));

        var after = await StartRuntimeAsync();
        var retry = await after.CallAsync("keys", t => t.Acquire("a", idempotencyKey: "k"));

        Assert.Equal(first.RequestId, retry.RequestId);
        var stats = await after.CallAsync("keys", t => t.GetStats());
        Assert.Equal(1, stats.Leases);
        Assert.Equal(0, stats.Granted); // the retry granted nothing new
    }

    [Cluster.StoreFact]
    public async Task AReleaseKeyOutlivesARestartWithTheLeaseItEnded()
    {
        var before = await StartRuntimeAsync();
        await before.PutResourceAsync(Definition("released-keys", maxConcurrent: 2));
        var lease = await before.CallAsync("released-keys", t => t.Acquire("t:a", load: 300, priority: Priority.High));
        var held = await before.CallAsync("released-keys", t => t.GetStatus(lease.RequestId));
        await before.CallAsync("released-keys", t => t.Release(lease.RequestId, idempotencyKey: "r"));

        var after = await StartRuntimeAsync();

        Assert.Equal(RequestStatusKind.Unknown, (await after.CallAsync("released-keys", t => t.GetStatus(lease.RequestId))).Kind);
        var released = await after.CallAsync("released-keys", t => t.FindRelease(lease.RequestId, "r"));
        Assert.NotNull(released);
        Assert.Equal(held with { Position = 0 }, released.Value);
        Assert.Null(await after.CallAsync("released-keys", t => t.FindRelease(lease.RequestId, "another key")));
        Assert.True((await after.CallAsync("released-keys", t => t.Release(lease.RequestId, idempotencyKey: "r"))).IsOk);
        Assert.Equal(0, (await after.CallAsync("released-keys", t => t.GetStats())).Released); // the retry released nothing again
    }

    [Cluster.StoreFact]
    public async Task OwnershipIsConfirmedOnlyUnderTheLatestEpochOfAResourceThatExists()
    {
        var store = await OpenStoreAsync();
        await store.PutResourceAsync(Definition("confirmed"), CancellationToken.None);
        var first = (await store.ClaimAsync("confirmed", "silo-a", CancellationToken.None))!;
        await store.ConfirmOwnershipAsync("confirmed", first.Epoch, CancellationToken.None);

        var second = (await store.ClaimAsync("confirmed", "silo-b", CancellationToken.None))!;

        var refused = await Assert.ThrowsAsync<OwnershipLostException>(() => store.ConfirmOwnershipAsync("confirmed", first.Epoch, CancellationToken.None));
        Assert.Equal("confirmed", refused.Resource);
        await store.ConfirmOwnershipAsync("confirmed", second.Epoch, CancellationToken.None);
        await store.DeleteResourceAsync("confirmed", CancellationToken.None);
        await Assert.ThrowsAsync<OwnershipLostException>(() => store.ConfirmOwnershipAsync("confirmed", second.Epoch, CancellationToken.None));
        await Assert.ThrowsAsync<OwnershipLostException>(() => store.ConfirmOwnershipAsync("never-made", 1, CancellationToken.None));
    }

    [Cluster.StoreFact]
    public async Task JobsOutliveARestartInTheirStates()
    {
        var before = await StartRuntimeAsync();
        await before.PutResourceAsync(Definition("jobs", maxConcurrent: 5));
        long running = (await before.CallAsync("jobs", t => t.EnqueueJob("c", "{\"n\":1}"))).RequestId;
        await before.CallAsync("jobs", t => t.TakeJob("w1"));
        long done = (await before.CallAsync("jobs", t => t.EnqueueJob("c", "{\"n\":2}"))).RequestId;
        await before.CallAsync("jobs", t => t.TakeJob("w2"));
        await before.CallAsync("jobs", t => t.CompleteJob(done, "w2", "result"));
        long queued = (await before.CallAsync("jobs", t => t.EnqueueJob("c", "{\"n\":3}"))).RequestId;

        var after = await StartRuntimeAsync();

        Assert.Equal(JobState.Running, (await after.CallAsync("jobs", t => t.GetJob(running)))!.State);
        Assert.Equal("result", (await after.CallAsync("jobs", t => t.GetJob(done)))!.Result);
        var next = await after.CallAsync("jobs", t => t.TakeJob("w3"));
        Assert.Equal(queued, next.Job!.Id);
        Assert.Equal("{\"n\":3}", next.Job.Payload);
    }

    [Cluster.StoreFact]
    public async Task AClaimFencesOffTheOwnerBeforeItAndSeesAllItCommitted()
    {
        var store = await OpenStoreAsync();
        await store.PutResourceAsync(Definition("fenced"), CancellationToken.None);
        var first = (await store.ClaimAsync("fenced", "silo-a", CancellationToken.None))!;
        var grain = ResourceScheduler.Restore("fenced", first.Snapshot, TimeProvider.System);
        grain.Acquire("a", load: 400);
        await store.CommitAsync("fenced", first.Epoch, first.Sequence + 1, grain.TakeChanges(), CancellationToken.None);

        var second = (await store.ClaimAsync("fenced", "silo-b", CancellationToken.None))!;

        Assert.True(second.Epoch > first.Epoch);
        Assert.Single(second.Snapshot.Requests); // what the first owner committed is there
        grain.Acquire("a", load: 400);
        var refused = await Assert.ThrowsAsync<OwnershipLostException>(() => store.CommitAsync("fenced", first.Epoch, first.Sequence + 2, grain.TakeChanges(), CancellationToken.None));
        Assert.Equal("fenced", refused.Resource);
        var third = (await store.ClaimAsync("fenced", "silo-c", CancellationToken.None))!;
        Assert.Single(third.Snapshot.Requests); // the stale owner's second grant never landed
        Assert.Contains(("fenced", "silo-c"), await store.ListOwnedAsync(CancellationToken.None));
    }

    [Cluster.StoreFact]
    public async Task AReleaseUnderAStaleEpochLeavesTheNewOwnerInPlace()
    {
        var store = await OpenStoreAsync();
        await store.PutResourceAsync(Definition("released"), CancellationToken.None);
        var first = (await store.ClaimAsync("released", "silo-a", CancellationToken.None))!;
        var second = (await store.ClaimAsync("released", "silo-b", CancellationToken.None))!;

        await store.ReleaseAsync("released", first.Epoch, CancellationToken.None);
        Assert.Contains(("released", "silo-b"), await store.ListOwnedAsync(CancellationToken.None));

        await store.ReleaseAsync("released", second.Epoch, CancellationToken.None);
        Assert.DoesNotContain(await store.ListOwnedAsync(CancellationToken.None), o => o.Name == "released");
    }

    [Cluster.StoreFact]
    public async Task ADeletedAndRecreatedResourceNeverReusesAnEpoch()
    {
        var store = await OpenStoreAsync();
        await store.PutResourceAsync(Definition("again"), CancellationToken.None);
        var old = (await store.ClaimAsync("again", "silo-a", CancellationToken.None))!;
        await store.DeleteResourceAsync("again", CancellationToken.None);
        await store.PutResourceAsync(Definition("again"), CancellationToken.None);
        var fresh = (await store.ClaimAsync("again", "silo-b", CancellationToken.None))!;

        Assert.NotEqual(old.Epoch, fresh.Epoch);
        var grain = ResourceScheduler.Restore("again", old.Snapshot, TimeProvider.System);
        grain.Acquire("a");
        await Assert.ThrowsAsync<OwnershipLostException>(() => store.CommitAsync("again", old.Epoch, old.Sequence + 1, grain.TakeChanges(), CancellationToken.None));
        Assert.Null(await store.ClaimAsync("missing", "silo-a", CancellationToken.None));
    }

    [Cluster.StoreFact]
    public async Task CommitsMadeTogetherAreEachJudgedByTheirOwnEpoch()
    {
        var store = await OpenStoreAsync();
        var owned = new List<(string Name, long Epoch, long Sequence, ResourceScheduler Grain)>();
        for (int i = 0; i < 6; i++)
        {
            string name = $"together-{i}";
            await store.PutResourceAsync(Definition(name, maxConcurrent: 10), CancellationToken.None);
            var claim = (await store.ClaimAsync(name, "silo-a", CancellationToken.None))!;
            owned.Add((name, claim.Epoch, claim.Sequence, ResourceScheduler.Restore(name, claim.Snapshot, TimeProvider.System)));
        }
        await store.ClaimAsync("together-0", "silo-b", CancellationToken.None); // silo-a's grain for it is now stale
        await store.DeleteResourceAsync("together-1", CancellationToken.None);

        // Every commit is queued before any is awaited, so a store that groups them gets them in one go; the last
        // grain commits two turns back to back.
        var commits = owned.Select(o =>
        {
            o.Grain.Acquire("a", load: 100);
            return store.CommitAsync(o.Name, o.Epoch, o.Sequence + 1, o.Grain.TakeChanges(), CancellationToken.None);
        }).ToList();
        var last = owned[^1];
        last.Grain.Acquire("b", load: 100);
        commits.Add(store.CommitAsync(last.Name, last.Epoch, last.Sequence + 2, last.Grain.TakeChanges(), CancellationToken.None));

        await Assert.ThrowsAsync<OwnershipLostException>(() => commits[0]);
        await Task.WhenAll(commits.Skip(1)); // the deleted resource's changes are dropped without a fault
        Assert.Empty((await store.ClaimAsync("together-0", "silo-c", CancellationToken.None))!.Snapshot.Requests);
        Assert.Null(await store.ClaimAsync("together-1", "silo-c", CancellationToken.None));
        for (int i = 2; i < 5; i++)
            Assert.Single((await store.ClaimAsync($"together-{i}", "silo-c", CancellationToken.None))!.Snapshot.Requests);
        var both = (await store.ClaimAsync("together-5", "silo-c", CancellationToken.None))!.Snapshot.Requests;
        Assert.Equal(["a", "b"], both.Select(r => r.ClientId).Order());
    }

    /// <summary>A claim tells when the resource last ran: its last commit, or its previous owner's last heartbeat if later,
    /// and nothing (0) when no owner held it. The scheduler does not count the time since then against waits and leases.</summary>
    [Cluster.StoreFact]
    public async Task AClaimTellsWhenTheResourceLastRanFromItsOwnersHeartbeat()
    {
        var store = await OpenStoreAsync();
        await store.PutResourceAsync(Definition("last-ran"), CancellationToken.None);
        await store.PutResourceAsync(Definition("never-beat"), CancellationToken.None);
        var first = await store.ClaimAsync("last-ran", "silo-a", CancellationToken.None);
        Assert.Equal(0, first!.Snapshot.SavedAt); // never owned before: nothing ran it, nothing to discount
        await store.CommitAsync("last-ran", first.Epoch, first.Sequence + 1, new OrleansQueue.Scheduling.Persistence.ResourceChanges { SavedAt = 1_000 }, CancellationToken.None);
        await store.HeartbeatAsync("silo-a", 5_000, CancellationToken.None);
        await store.HeartbeatAsync("silo-a", 4_000, CancellationToken.None); // a late beat never moves it back

        var second = await store.ClaimAsync("last-ran", "silo-b", CancellationToken.None);
        Assert.Equal(5_000, second!.Snapshot.SavedAt); // silo-a ran it until its last beat

        await store.HeartbeatAsync("silo-b", 800, CancellationToken.None);
        var third = await store.ClaimAsync("last-ran", "silo-c", CancellationToken.None);
        Assert.Equal(1_000, third!.Snapshot.SavedAt); // the commit is later than silo-b's beat

        await store.ReleaseAsync("last-ran", third.Epoch, CancellationToken.None);
        Assert.Equal(0, (await store.ClaimAsync("last-ran", "silo-d", CancellationToken.None))!.Snapshot.SavedAt); // given up idle

        var neverBeat = await store.ClaimAsync("never-beat", "silo-e", CancellationToken.None);
        await store.CommitAsync("never-beat", neverBeat!.Epoch, neverBeat.Sequence + 1, new OrleansQueue.Scheduling.Persistence.ResourceChanges { SavedAt = 2_000 }, CancellationToken.None);
        Assert.Equal(2_000, (await store.ClaimAsync("never-beat", "silo-f", CancellationToken.None))!.Snapshot.SavedAt);
    }

    /// <summary>For a store that <see cref="IGrainStore.PipelinesCommits"/>: a batch whose predecessor did not land is refused
    /// and leaves nothing, and the owner's numbering goes on from the last batch that landed, across claims.</summary>
    protected async Task ABatchWhosePredecessorDidNotLandIsRefusedAndLeavesNothing()
    {
        var store = await OpenStoreAsync();
        Assert.True(store.PipelinesCommits);
        await store.PutResourceAsync(Definition("numbered", maxConcurrent: 5), CancellationToken.None);
        var claim = (await store.ClaimAsync("numbered", "silo-a", CancellationToken.None))!;
        var grain = ResourceScheduler.Restore("numbered", claim.Snapshot, TimeProvider.System);
        grain.Acquire("a");
        await store.CommitAsync("numbered", claim.Epoch, claim.Sequence + 1, grain.TakeChanges(), CancellationToken.None);
        grain.Acquire("b");
        grain.TakeChanges(); // batch 2, lost on its way
        grain.Acquire("c");
        await Assert.ThrowsAsync<CommitOutOfOrderException>(() =>
            store.CommitAsync("numbered", claim.Epoch, claim.Sequence + 3, grain.TakeChanges(), CancellationToken.None));
        await Assert.ThrowsAsync<CommitOutOfOrderException>(() =>
            store.CommitAsync("numbered", claim.Epoch, claim.Sequence + 1, new OrleansQueue.Scheduling.Persistence.ResourceChanges(), CancellationToken.None));

        var next = (await store.ClaimAsync("numbered", "silo-b", CancellationToken.None))!;
        Assert.Equal(["a"], next.Snapshot.Requests.Select(r => r.ClientId));
        Assert.Equal(claim.Sequence + 1, next.Sequence);
    }

    protected void Track(IAsyncDisposable disposable) => _disposables.Add(disposable);

    /// <summary>What the grain does with a store, without Orleans: claims a resource on first use, restores its scheduler,
    /// and commits each call's changes under the claimed epoch before answering.</summary>
    private sealed class StoredResources(IGrainStore store)
    {
        private readonly Dictionary<string, (ResourceScheduler Scheduler, long Epoch, long Sequence)> _claimed = [];

        public Task<bool> PutResourceAsync(ResourceDefinition definition) => store.PutResourceAsync(definition, CancellationToken.None);
        public Task<bool> DeleteResourceAsync(string name) => store.DeleteResourceAsync(name, CancellationToken.None);
        public Task<ResourceDefinition?> GetResourceAsync(string name) => store.GetResourceAsync(name, CancellationToken.None);
        public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync() => store.ListResourcesAsync(CancellationToken.None);

        public async Task<T> CallAsync<T>(string name, Func<ResourceScheduler, T> call)
        {
            if (!_claimed.TryGetValue(name, out var owned))
            {
                var claim = await store.ClaimAsync(name, "test-owner", CancellationToken.None) ?? throw new KeyNotFoundException(name);
                owned = (ResourceScheduler.Restore(name, claim.Snapshot, TimeProvider.System), claim.Epoch, claim.Sequence);
            }
            var result = call(owned.Scheduler);
            _claimed[name] = owned = owned with { Sequence = owned.Sequence + 1 };
            await store.CommitAsync(name, owned.Epoch, owned.Sequence, owned.Scheduler.TakeChanges(), CancellationToken.None);
            return result;
        }
    }
}

public sealed class InMemoryStoreConformanceTests : StoreConformanceTests
{
    private readonly InMemoryGrainStore _store = new();

    internal override Task<IGrainStore> OpenStoreAsync() => Task.FromResult<IGrainStore>(_store);

    [Fact]
    public Task BatchesAreNumbered() => ABatchWhosePredecessorDidNotLandIsRefusedAndLeavesNothing();
}

/// <summary>SQLite, its change log folded into the tables only when a resource is claimed or given up (every test here
/// commits fewer records than the store's threshold): what is read back comes from the log.</summary>
public class SqliteStoreConformanceTests : StoreConformanceTests
{
    private readonly string _path = Path.Combine(Directory.CreateTempSubdirectory("oq-store-").FullName, "silo.db");

    /// <summary>How many records a resource's log gathers before they are folded into its tables.</summary>
    protected virtual int CompactAfter => 256;

    [Fact]
    public Task BatchesAreNumbered() => ABatchWhosePredecessorDidNotLandIsRefusedAndLeavesNothing();

    internal override async Task<IGrainStore> OpenStoreAsync()
    {
        var store = new SqliteGrainStore(_path, compactAfter: CompactAfter);
        await store.InitializeAsync(CancellationToken.None);
        Track(store);
        return store;
    }

    [Fact]
    public async Task ClosingTwiceAtOnceWritesWhatIsPendingAndRefusesWhatComesAfter()
    {
        var store = (SqliteGrainStore)await OpenStoreAsync();
        var pending = store.PutResourceAsync(new ResourceDefinition("pending", new ResourcePolicy { MaxConcurrent = 1 }), CancellationToken.None);

        await Task.WhenAll(store.DisposeAsync().AsTask(), store.DisposeAsync().AsTask(), pending);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetResourceAsync("pending", CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.ReleaseAsync("pending", 1, CancellationToken.None));
        var reopened = await OpenStoreAsync();
        Assert.NotNull(await reopened.GetResourceAsync("pending", CancellationToken.None));
    }
}

/// <summary>SQLite, every record folded into the tables as soon as its batch is answered.</summary>
public sealed class SqliteFoldingEveryRecordConformanceTests : SqliteStoreConformanceTests
{
    protected override int CompactAfter => 1;
}

/// <summary>SQLite, folding every third record: what is read back comes from the tables and the log after them.</summary>
public sealed class SqliteFoldingEveryThirdRecordConformanceTests : SqliteStoreConformanceTests
{
    protected override int CompactAfter => 3;
}

/// <summary>PostgreSQL, its change log folded into the tables only when a resource is claimed or given up (every test
/// here commits fewer records than the store's threshold): what is read back comes from the log.</summary>
public class PostgresStoreConformanceTests : StoreConformanceTests, Cluster.INeedsPostgres
{
    private string? _connectionString;

    /// <summary>How many records a resource's log gathers before they are folded into its tables.</summary>
    protected virtual int CompactAfter => 256;

    [Cluster.StoreFact]
    public Task BatchesAreNumbered() => ABatchWhosePredecessorDidNotLandIsRefusedAndLeavesNothing();

    internal override async Task<IGrainStore> OpenStoreAsync()
    {
        _connectionString ??= await Cluster.PostgresServer.CreateDatabaseAsync();
        var store = new PostgresGrainStore(_connectionString, compactAfter: CompactAfter);
        await store.InitializeAsync(CancellationToken.None);
        Track(store);
        return store;
    }
}

/// <summary>PostgreSQL, every record folded into the tables soon after its batch is answered.</summary>
public sealed class PostgresFoldingEveryRecordConformanceTests : PostgresStoreConformanceTests
{
    protected override int CompactAfter => 1;
}

/// <summary>PostgreSQL, folding every third record: what is read back comes from the tables and the log after them.</summary>
public sealed class PostgresFoldingEveryThirdRecordConformanceTests : PostgresStoreConformanceTests
{
    protected override int CompactAfter => 3;
}

/// <summary>Redis, its change log folded into the tables only when a resource is claimed or given up (every test here
/// commits fewer records than the store's threshold): what is read back comes from the log.</summary>
public class RedisStoreConformanceTests : StoreConformanceTests, Cluster.INeedsRedis
{
    private string? _prefix;

    /// <summary>How many records a resource's log gathers before they are folded into its tables.</summary>
    protected virtual int CompactAfter => 256;

    [Cluster.StoreFact]
    public Task BatchesAreNumbered() => ABatchWhosePredecessorDidNotLandIsRefusedAndLeavesNothing();

    internal override async Task<IGrainStore> OpenStoreAsync()
    {
        _prefix ??= Cluster.RedisServer.NewPrefix();
        var store = new RedisGrainStore(StackExchange.Redis.ConfigurationOptions.Parse(await Cluster.RedisServer.AddressAsync()), Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisGrainStore>.Instance,
            _prefix, CompactAfter);
        await store.InitializeAsync(CancellationToken.None);
        Track(store);
        return store;
    }
}

/// <summary>Redis, every record folded into the tables soon after its batch is answered.</summary>
public sealed class RedisFoldingEveryRecordConformanceTests : RedisStoreConformanceTests
{
    protected override int CompactAfter => 1;
}

/// <summary>Redis, folding every third record: what is read back comes from the tables and the log after them.</summary>
public sealed class RedisFoldingEveryThirdRecordConformanceTests : RedisStoreConformanceTests
{
    protected override int CompactAfter => 3;
}
