using OrleansQueue.Contracts;
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains;

/// <summary>
/// One resource's group commit. Operations change the scheduler at once; their changes gather into the batch forming now,
/// which is written as one commit as soon as the write in flight (if any) returns, so batches land one after the other, in
/// order. A batch that changed nothing is not written: the store confirms instead that its epoch is still the resource's,
/// so that no answer comes from a memory another owner has overtaken. What a batch announces (<typeparamref name="TNotice"/>)
/// is published only once it is durable. A batch that fails leaves the memory ahead of the store, or not known to be the
/// owner's: it fails, with every batch after it, nothing of them is published, and the group commit refuses from then on.
/// </summary>
/// <remarks>Not thread-safe: the grain's turns call it one at a time (interleaving only at awaits).</remarks>
internal sealed class GroupCommit<TNotice>(string resource, long epoch, Func<ResourceChanges> takeChanges, IGrainStore store,
    Action<List<TNotice>> publish, Action<Exception, Problem> failed)
{
    private List<TNotice> _notices = [];
    private TaskCompletionSource? _gathering;
    private Task _writing = Task.CompletedTask;

    /// <summary>Why every operation is refused from now on (a batch failed), or <c>null</c>.</summary>
    public Problem? Failure { get; private set; }

    /// <summary>Whether nothing gathers and nothing is being written.</summary>
    public bool IsIdle => _gathering is null && _writing.IsCompleted;

    /// <summary>The write in flight, for a deactivation to wait for (it never fails: failures are its batches').</summary>
    public Task Writing => _writing;

    /// <summary>Publishes <paramref name="notice"/> once the batch gathering now is durable; never, if it fails.</summary>
    public void Announce(TNotice notice) => _notices.Add(notice);

    /// <summary>
    /// The commit that holds every change made so far: the batch gathering now, written as soon as the write in flight
    /// returns (or at once, when none is).
    /// </summary>
    /// <exception cref="CommitFailedException">The batch, or one before it, failed; <see cref="CommitFailedException.Problem"/> says how.</exception>
    public Task CommitAsync()
    {
        if (Failure is { } failure)
            return Task.FromException(new CommitFailedException(failure));
        var gathering = _gathering ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_writing.IsCompleted)
            _writing = WriteBatchesAsync();
        return gathering.Task;
    }

    private async Task WriteBatchesAsync()
    {
        while (_gathering is { } batch)
        {
            _gathering = null;
            var changes = takeChanges();
            var notices = _notices;
            _notices = [];
            try
            {
                if (changes.IsEmpty)
                    await store.ConfirmOwnershipAsync(resource, epoch, CancellationToken.None);
                else
                    await store.CommitAsync(resource, epoch, changes, CancellationToken.None);
            }
            catch (Exception ex)
            {
                Fail(ex, batch, wrote: !changes.IsEmpty);
                return;
            }
            batch.SetResult();
            publish(notices);
        }
    }

    private void Fail(Exception error, TaskCompletionSource batch, bool wrote)
    {
        var problem = error is OwnershipLostException
            ? Problem.Moved($"Another silo owns resource \"{resource}\" now; the operation did not take effect and can be retried.")
            : wrote ? Problem.CommitUncertain(resource) : Problem.StoreFailed(resource);
        Failure = problem;
        var failure = new CommitFailedException(problem);
        batch.SetException(failure);
        if (_gathering is { } next)
        {
            _gathering = null;
            next.SetException(failure);
        }
        _notices.Clear();
        failed(error, problem);
    }
}

/// <summary>The batch that held an operation's change was not committed: <see cref="Problem"/> is the answer to give.</summary>
internal sealed class CommitFailedException(Problem problem) : Exception(problem.Detail)
{
    public Problem Problem { get; } = problem;
}
