using OrleansQueue.Contracts;
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains;

/// <summary>
/// One resource's group commit. Operations change the scheduler at once; their changes gather into the batch forming now,
/// which is handed to the store as soon as fewer than <see cref="PipelineDepth"/> batches are in flight there (one, unless the
/// store <see cref="IGrainStore.PipelinesCommits">refuses a batch whose predecessor did not land</see>). Batches are numbered
/// and answered in order: a batch is done once it landed and every batch before it is done. A batch that changed nothing is
/// not written: the store confirms instead that its epoch is still the resource's, so that no answer comes from a memory
/// another owner has overtaken. What a batch announces (<typeparamref name="TNotice"/>) is published only once it is done. A
/// batch that fails leaves the memory ahead of the store, or not known to be the owner's: it fails, with every batch after
/// it, nothing of them is published, and the group commit refuses from then on.
/// </summary>
/// <remarks>Not thread-safe: the grain's turns call it one at a time (interleaving only at awaits), and its own continuations
/// run as the grain's turns too.</remarks>
internal sealed class GroupCommit<TNotice>(string resource, long epoch, long sequence, Func<ResourceChanges> takeChanges,
    IGrainStore store, Action<List<TNotice>> publish, Action<Exception, Problem> failed)
{
    /// <summary>How many batches a pipelining store may hold in flight for one resource.</summary>
    public const int PipelineDepth = 4;

    private readonly int _maxInFlight = store.PipelinesCommits ? PipelineDepth : 1;
    private List<TNotice> _notices = [];
    private TaskCompletionSource? _gathering;
    private long _sequence = sequence;
    private int _inFlight;
    private Task _answered = Task.CompletedTask;

    /// <summary>Why every operation is refused from now on (a batch failed), or <c>null</c>.</summary>
    public Problem? Failure { get; private set; }

    /// <summary>Whether nothing gathers and nothing is being written.</summary>
    public bool IsIdle => _gathering is null && _inFlight == 0;

    /// <summary>The batches in flight, answered, for a deactivation to wait for (it never fails: failures are its batches').</summary>
    public Task Writing => _answered;

    /// <summary>Publishes <paramref name="notice"/> once the batch gathering now is durable; never, if it fails.</summary>
    public void Announce(TNotice notice) => _notices.Add(notice);

    /// <summary>
    /// The commit that holds every change made so far: the batch gathering now, handed to the store at once when the
    /// pipeline has room, else as soon as a batch before it is answered.
    /// </summary>
    /// <exception cref="CommitFailedException">The batch, or one before it, failed; <see cref="CommitFailedException.Problem"/> says how.</exception>
    public Task CommitAsync()
    {
        if (Failure is { } failure)
            return Task.FromException(new CommitFailedException(failure));
        var gathering = _gathering ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_inFlight < _maxInFlight)
            Send();
        return gathering.Task;
    }

    private void Send()
    {
        var batch = _gathering!;
        _gathering = null;
        var changes = takeChanges();
        var notices = _notices;
        _notices = [];
        bool writes = !changes.IsEmpty;
        Task stored;
        try
        {
            stored = writes
                ? store.CommitAsync(resource, epoch, ++_sequence, changes, CancellationToken.None)
                : store.ConfirmOwnershipAsync(resource, epoch, CancellationToken.None);
        }
        catch (Exception ex)
        {
            stored = Task.FromException(ex);
        }
        _inFlight++;
        _answered = AnswerAsync(batch, stored, _answered, notices, writes);
    }

    /// <summary>Answers a batch once it landed and the batch before it was answered; then sends what gathered meanwhile.</summary>
    private async Task AnswerAsync(TaskCompletionSource batch, Task stored, Task before, List<TNotice> notices, bool wrote)
    {
        Exception? error = null;
        try
        {
            await stored;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await before; // never fails
        _inFlight--;
        if (Failure is { } earlier)
            batch.SetException(new CommitFailedException(earlier));
        else if (error is not null)
            Fail(error, batch, wrote);
        else
        {
            batch.SetResult();
            publish(notices);
        }
        if (_gathering is not null && Failure is null && _inFlight < _maxInFlight)
            Send();
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
