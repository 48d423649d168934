using OrleansQueue.Contracts;
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Silo;

/// <summary>The group commit on its own, with a store whose every write the test answers by hand: no silo, no scheduler.</summary>
public sealed class GroupCommitTests
{
    private readonly ScriptedStore _store = new();
    private readonly List<string> _published = [];
    private readonly List<Problem> _failures = [];
    private ResourceChanges _pending = new();
    private readonly GroupCommit<string> _commit;

    public GroupCommitTests() => _commit = NewCommit();

    private GroupCommit<string> NewCommit() => new("r", 7, 100, TakeChanges, _store, _published.AddRange, (_, p) => _failures.Add(p));

    [Fact]
    public async Task CallsDuringAWriteGatherIntoTheNextOneWrittenAfterItInOrder()
    {
        var first = Change(1, "one");
        Assert.Single(_store.Writes);
        var second = Change(2, "two");
        var third = Change(3, "three");
        Assert.Single(_store.Writes); // one write in flight at a time
        Assert.False(second.IsCompleted || third.IsCompleted);

        _store.Answer(0);
        await first;
        Assert.Equal(["one"], _published);
        Assert.Equal(2, _store.Writes.Count);
        Assert.Equal([2L, 3L], _store.Writes[1].Changes!.DeleteRequests); // both in the second write
        Assert.False(second.IsCompleted);

        _store.Answer(1);
        await Task.WhenAll(second, third);
        Assert.Equal(["one", "two", "three"], _published);
        Assert.True(_commit.IsIdle);
    }

    [Fact]
    public async Task AFailedWriteFailsItsBatchAndEveryLaterOneAndAnnouncesNothingOfThem()
    {
        var first = Change(1, "one");
        var second = Change(2, "two");
        _store.Fail(0, new OwnershipLostException("r", 7));

        var refused = await Assert.ThrowsAsync<CommitFailedException>(() => first);
        Assert.Equal("urn:orleansqueue:problem:moved", refused.Problem.Type);
        Assert.Equal(refused.Problem, (await Assert.ThrowsAsync<CommitFailedException>(() => second)).Problem);
        Assert.Equal(refused.Problem, (await Assert.ThrowsAsync<CommitFailedException>(() => Change(3, "three"))).Problem);
        Assert.Empty(_published);
        Assert.Single(_store.Writes); // nothing after the failure reached the store
        Assert.Equal([refused.Problem], _failures);
        Assert.Equal(refused.Problem, _commit.Failure);
    }

    [Fact]
    public async Task AWriteTheStoreNeverConfirmedIsUncertainAndAFailedOwnershipCheckIsUnavailable()
    {
        var write = Change(1, "one");
        _store.Fail(0, new IOException("connection reset"));
        Assert.Equal("urn:orleansqueue:problem:unavailable", (await Assert.ThrowsAsync<CommitFailedException>(() => write)).Problem.Type);
        Assert.Contains("may or may not have taken effect", _failures.Single().Detail);

        var other = NewCommit();
        var read = other.CommitAsync();
        _store.Fail(1, new IOException("connection reset"));
        var failure = (await Assert.ThrowsAsync<CommitFailedException>(() => read)).Problem;
        Assert.Equal("urn:orleansqueue:problem:unavailable", failure.Type);
        Assert.DoesNotContain("may or may not", failure.Detail);
    }

    [Fact]
    public async Task ABatchThatChangedNothingIsConfirmedNotWrittenAndAReadWaitsForTheWriteBeforeIt()
    {
        var write = Change(1, "one");
        var read = _commit.CommitAsync(); // saw the change in flight: must not answer before it is durable
        Assert.False(read.IsCompleted);

        _store.Answer(0);
        await write;
        Assert.False(read.IsCompleted); // and then its own check of the epoch
        Assert.Equal(ScriptedStore.Kind.Confirm, _store.Writes[1].What);
        _store.Answer(1);
        await read;

        var stale = _commit.CommitAsync();
        _store.Fail(2, new OwnershipLostException("r", 7));
        Assert.Equal("urn:orleansqueue:problem:moved", (await Assert.ThrowsAsync<CommitFailedException>(() => stale)).Problem.Type);
    }

    [Fact]
    public async Task APipeliningStoreGetsNumberedBatchesAtOnceAndTheyAreAnsweredInOrder()
    {
        _store.PipelinesCommits = true;
        var commit = NewCommit();
        var calls = Enumerable.Range(1, GroupCommit<string>.PipelineDepth + 2).Select(i =>
        {
            _pending.DeleteRequests.Add(i);
            commit.Announce($"n{i}");
            return commit.CommitAsync();
        }).ToList();
        Assert.Equal(GroupCommit<string>.PipelineDepth, _store.Writes.Count); // the pipeline is full; the rest gathers
        Assert.Equal([101L, 102L, 103L, 104L], _store.Sequences);

        _store.Answer(1); // the second lands first: it waits for the first
        Assert.False(calls[1].IsCompleted);
        Assert.Empty(_published);
        _store.Answer(0);
        await Task.WhenAll(calls[0], calls[1]);
        Assert.Equal(["n1", "n2"], _published);
        Assert.Equal(GroupCommit<string>.PipelineDepth + 1, _store.Writes.Count); // the gathered ones went, as one batch
        Assert.Equal([5L, 6L], _store.Writes[^1].Changes!.DeleteRequests);
        Assert.Equal(105L, _store.Sequences[^1]);

        for (int i = 2; i < _store.Writes.Count; i++)
            _store.Answer(i);
        await Task.WhenAll(calls);
        Assert.Equal(["n1", "n2", "n3", "n4", "n5", "n6"], _published);
        Assert.True(commit.IsIdle);
    }

    [Fact]
    public async Task InAPipelineABatchThatLandedAfterOneThatFailedFailsTooAndNothingOfEitherIsPublished()
    {
        _store.PipelinesCommits = true;
        var commit = NewCommit();
        var first = Step(commit, 1);
        var second = Step(commit, 2);
        var third = Step(commit, 3);

        _store.Answer(1); // landed, but after a batch that is about to fail
        _store.Fail(0, new IOException("disk full"));
        _store.Fail(2, new CommitOutOfOrderException("r", 7, 103)); // what a store that numbers batches answers

        var problem = (await Assert.ThrowsAsync<CommitFailedException>(() => first)).Problem;
        Assert.Equal(problem, (await Assert.ThrowsAsync<CommitFailedException>(() => second)).Problem);
        Assert.Equal(problem, (await Assert.ThrowsAsync<CommitFailedException>(() => third)).Problem);
        Assert.Empty(_published);
        Assert.Single(_failures); // one failure, reported once
        Assert.True(commit.IsIdle);
    }

    private Task Step(GroupCommit<string> commit, long id)
    {
        _pending.DeleteRequests.Add(id);
        commit.Announce($"n{id}");
        return commit.CommitAsync();
    }

    /// <summary>An operation: a change (a request ended) and an announcement, then its wait for the commit that holds both.</summary>
    private Task Change(long id, string notice)
    {
        _pending.DeleteRequests.Add(id);
        _commit.Announce(notice);
        return _commit.CommitAsync();
    }

    private ResourceChanges TakeChanges()
    {
        var taken = _pending;
        _pending = new ResourceChanges();
        return taken;
    }

    /// <summary>A store whose commits and ownership checks wait until the test answers them, in the order they came.</summary>
    private sealed class ScriptedStore : IGrainStore
    {
        public enum Kind { Commit, Confirm }

        public List<(Kind What, ResourceChanges? Changes, TaskCompletionSource Done)> Writes { get; } = [];

        public void Answer(int write) => Writes[write].Done.SetResult();

        public void Fail(int write, Exception error) => Writes[write].Done.SetException(error);

        public bool PipelinesCommits { get; set; }

        public List<long> Sequences { get; } = [];

        public Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken ct)
        {
            Sequences.Add(sequence);
            return Add(Kind.Commit, changes);
        }

        public Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken ct) => Add(Kind.Confirm, null);

        private Task Add(Kind what, ResourceChanges? changes)
        {
            // Continuations run inline: when Answer or Fail returns, the group commit has done all it does next.
            var done = new TaskCompletionSource();
            Writes.Add((what, changes, done));
            return done.Task;
        }

        public Task InitializeAsync(CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken ct) => throw new NotSupportedException();
        public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken ct) => throw new NotSupportedException();
        public Task<bool> PutResourceAsync(ResourceDefinition d, CancellationToken ct) => throw new NotSupportedException();
        public Task<bool> DeleteResourceAsync(string name, CancellationToken ct) => throw new NotSupportedException();
        public Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken ct) => throw new NotSupportedException();
        public Task ReleaseAsync(string name, long epoch, CancellationToken ct) => throw new NotSupportedException();
        public Task HeartbeatAsync(string owner, long aliveAt, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken ct) => throw new NotSupportedException();
        public Task PingAsync(CancellationToken ct) => throw new NotSupportedException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
