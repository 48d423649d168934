using System.Collections.Concurrent;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// The client's operations as calls to the resources' grains, for an application that runs an Orleans client of the cluster
/// or co-hosts a silo: no gateway, no socket of our own; Orleans routes each call to the silo where the grain is active. One
/// observer object receives every push (grants, expiries, job changes). The application is inside the cluster's trust
/// boundary: it calls as tenant "default" with admin rights, as an open gateway does.
/// <para>
/// When a grain moves (its silo stops, it is rebalanced) it tells its observers <see cref="RequestPhase.Moved"/>; when a
/// silo dies it cannot, and <c>siloLost</c> (membership, or the Orleans client's gateway count) says so. Either way the
/// client re-attaches what it follows, in the one code path a reconnected WebSocket uses.
/// </para>
/// </summary>
internal sealed class OrleansConnection : IConnection, IWorkerCalls, IResourceObserver
{
    private static readonly Caller Trusted = new("default", IsAdmin: true);

    /// <summary>How long past its own wait a worker's poll is given for its push: a poll whose silo died hears nothing.</summary>
    private static readonly TimeSpan PollGrace = TimeSpan.FromSeconds(5);

    private readonly IGrainFactory _grains;
    private readonly IResourceObserver _self;
    private readonly IDisposable? _siloLost;
    private readonly ResourceGrainReferences _references;
    // Workers' waits by (resource, poll id): the push that ends each (a job, an expiry, a move), which may come before the take's answer.
    private readonly ConcurrentDictionary<(string Resource, long Poll), TaskCompletionSource<RequestUpdate>> _polls = new();
    private int _reattachQueued;
    private int _moves; // grain moves and silo losses heard of so far
    private int _disposed;

    public OrleansConnection(IGrainFactory grains, Func<Action, IDisposable>? siloLost)
    {
        _grains = grains;
        _references = new ResourceGrainReferences(grains);
        // Orleans holds the object weakly; the client holds this connection for its whole life.
        _self = grains.CreateObjectReference<IResourceObserver>(this);
        _siloLost = siloLost?.Invoke(Moved);
    }

    public Action<RequestView>? Updated { get; set; }
    public Action<JobView>? JobUpdated { get; set; }
    public Func<Task>? Reconnected { get; set; }

    public async Task<SocketMessage> CallAsync(SocketRequest m, CancellationToken ct, Action<SocketMessage>? inline = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ct.ThrowIfCancellationRequested();
        string resource = m.Resource ?? "";
        long id = m.Id ?? 0;
        var grain = Grain(resource);
        int moves = Volatile.Read(ref _moves);
        SocketMessage reply;
        try
        {
            reply = m.Op switch
            {
                SocketOps.Acquire => SocketMessage.Reply(m.Corr, await grain.Requests.Acquire(Trusted,
                    new AcquireBody(m.ClientId, m.Load, m.Priority, m.MaxWaitMs, m.IdempotencyKey), _self).WaitAsync(ct)),
                SocketOps.Status => SocketMessage.Reply(m.Corr, await grain.Requests.Status(Trusted, id, null).WaitAsync(ct)),
                SocketOps.Release => SocketMessage.Reply(m.Corr, await grain.Requests.Release(Trusted, id,
                    new ReleaseBody(m.ActualLoad, m.IdempotencyKey, m.Upstream)).WaitAsync(ct)),
                SocketOps.Report => SocketMessage.Reply(m.Corr, await grain.Requests.ReportUpstream(Trusted, id, m.Upstream ?? new UpstreamBody()).WaitAsync(ct)),
                SocketOps.Renew or SocketOps.Claim => SocketMessage.Reply(m.Corr, await grain.Requests.Renew(Trusted, id).WaitAsync(ct)),
                SocketOps.Cancel => SocketMessage.Reply(m.Corr, await grain.Requests.Cancel(Trusted, id).WaitAsync(ct)),
                SocketOps.Attach => new SocketMessage(SocketMessageTypes.Reply, m.Corr, Results: await AttachAsync(grain, m.Ids ?? [], ct)),
                SocketOps.EnqueueJob => SocketMessage.Reply(m.Corr, await grain.Jobs.Enqueue(Trusted,
                    new EnqueueBody(m.Payload, m.ClientId, m.Load, m.Priority, m.DeadlineMs, m.IdempotencyKey)).WaitAsync(ct)),
                SocketOps.Job => SocketMessage.Reply(m.Corr, await grain.Jobs.GetJob(Trusted, id, withPayload: false).WaitAsync(ct)),
                SocketOps.WatchJob => SocketMessage.Reply(m.Corr, await grain.Jobs.WatchJob(Trusted, id, _self, requirePush: true).WaitAsync(ct)),
                SocketOps.CancelJob => SocketMessage.Reply(m.Corr, await grain.Jobs.CancelJob(Trusted, id).WaitAsync(ct)),
                _ => throw new ArgumentException($"No grain call for op \"{m.Op}\".", nameof(m)),
            };
        }
        catch (Exception ex) when (OnItsWay(ex))
        {
            throw Lost(resource, ex);
        }
        inline?.Invoke(reply);
        // A move heard of while this call was out may have come before its answer was followed (a ticket answered by the
        // activation that then left): attach once more, now that the caller follows it.
        if (Volatile.Read(ref _moves) != moves)
            QueueReattach();
        return reply;
    }

    private async Task<List<SocketResult>> AttachAsync(ResourceGrainReference grain, long[] ids, CancellationToken ct)
    {
        var results = new List<SocketResult>(ids.Length);
        foreach (long id in ids)
            results.Add(SocketResult.Of(await grain.Requests.Attach(Trusted, id, _self).WaitAsync(ct)));
        return results;
    }

    /// <summary>A push from a grain (through Orleans, on its thread pool).</summary>
    Task IResourceObserver.OnUpdate(RequestUpdate update)
    {
        switch (update.Phase)
        {
            case RequestPhase.Moved:
                if (_polls.TryGetValue((update.Resource, update.Id), out var moved))
                    moved.TrySetResult(update);
                Moved();
                break;
            case RequestPhase.JobChanged:
                _ = PushJobAsync(update.Resource, update.Id);
                break;
            case RequestPhase.JobAssigned or RequestPhase.PollExpired:
                _polls.GetOrAdd((update.Resource, update.Id), _ => NewPoll()).TrySetResult(update);
                break;
            default:
                Updated?.Invoke(RequestView.Of(update, Trusted));
                break;
        }
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<JobView>> TakeAsync(string resource, string worker, int max, TimeSpan wait, CancellationToken ct)
    {
        var jobs = Grain(resource).Jobs;
        // Not cancelled on the way: a wait the grain set up must be learnt of, so that it can be withdrawn.
        var answer = await Reaching(resource, jobs.TakeJob(Trusted, worker, max, wait, _self));
        if (answer.Outcome.Problem is { } problem)
            throw OrleansQueueException.FromProblem(ProblemBody.Of(problem)!);
        if (answer.PollId == 0)
            return answer.Outcome.Value!;
        var key = (resource, answer.PollId);
        var pushed = _polls.GetOrAdd(key, _ => NewPoll());
        try
        {
            var update = await pushed.Task.WaitAsync(wait + PollGrace, ct);
            if (update.Phase != RequestPhase.JobAssigned)
                return [];
            var job = await Reaching(resource, jobs.GetJob(Trusted, update.RelatedId, withPayload: true));
            return job.Value is { } view ? [view] : [];
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            // The worker stops waiting (or its poll's silo is gone): withdraw the wait; a job pushed to it goes back.
            await Reaching(resource, jobs.CancelPoll(answer.PollId));
            if (ex is TimeoutException)
                return [];
            throw;
        }
        finally
        {
            _polls.TryRemove(key, out _);
        }
    }

    public async Task<JobView> ReportAsync(string resource, long id, WorkerReportKind kind, WorkerReport report, CancellationToken ct)
    {
        var outcome = await Reaching(resource, Grain(resource).Jobs.Report(Trusted, id, kind, report).WaitAsync(ct));
        return outcome.Problem is { } problem ? throw OrleansQueueException.FromProblem(ProblemBody.Of(problem)!) : outcome.Value!;
    }

    public async Task<JobView> AppendOutputAsync(string resource, long id, OutputBody body, CancellationToken ct)
    {
        var outcome = await Reaching(resource, Grain(resource).Jobs.AppendOutput(Trusted, id, body).WaitAsync(ct));
        return outcome.Problem is { } problem ? throw OrleansQueueException.FromProblem(ProblemBody.Of(problem)!) : outcome.Value!;
    }

    public async Task<JobOutputView> ReadOutputAsync(string resource, long id, long after, CancellationToken ct)
    {
        var outcome = await Reaching(resource, Grain(resource).Jobs.ReadOutput(Trusted, id, after).WaitAsync(ct));
        return outcome.Problem is { } problem ? throw OrleansQueueException.FromProblem(ProblemBody.Of(problem)!) : outcome.Value!;
    }

    private static TaskCompletionSource<RequestUpdate> NewPoll() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A grain call whose failure on its way is a lost connection (<see cref="OnItsWay"/>).</summary>
    private static async Task<T> Reaching<T>(string resource, Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (OnItsWay(ex))
        {
            throw Lost(resource, ex);
        }
    }

    private static async Task Reaching(string resource, Task call)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (OnItsWay(ex))
        {
            throw Lost(resource, ex);
        }
    }

    /// <summary>The call did not reach its grain or failed on its way (a silo going, a grain that could not activate): like a
    /// lost connection, retried by the client; idempotency keys make that safe.</summary>
    private static bool OnItsWay(Exception ex) => ex is not (OperationCanceledException or ArgumentException or ObjectDisposedException);

    private static ConnectionLostException Lost(string resource, Exception ex) =>
        new($"The call to resource \"{resource}\" failed ({ex.GetType().Name}).", ex);

    /// <summary>A watched job changed: read it and hand it on (the grain pushes that it changed, not what it is now).</summary>
    private async Task PushJobAsync(string resource, long id)
    {
        try
        {
            var job = await Grain(resource).Jobs.GetJob(Trusted, id, withPayload: false);
            if (job.Value is { } view)
                JobUpdated?.Invoke(view);
        }
        catch (Exception)
        {
            // The grain is moving: it tells Moved, and re-attaching reads the job again.
        }
    }

    private void Moved()
    {
        Interlocked.Increment(ref _moves);
        QueueReattach();
    }

    /// <summary>One re-attach for a burst of Moved pushes (a grain tells each of its requests).</summary>
    private void QueueReattach()
    {
        if (Interlocked.Exchange(ref _reattachQueued, 1) == 1)
            return;
        _ = Task.Run(async () =>
        {
            Volatile.Write(ref _reattachQueued, 0);
            if (_disposed == 0 && Reconnected is { } reattach)
                await reattach();
        });
    }

    private ResourceGrainReference Grain(string resource) => _references.Get(resource);

    /// <summary>Plays a grain move: the client re-attaches everything it follows.</summary>
    public void Abort() => Moved();

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _siloLost?.Dispose();
            try
            {
                _grains.DeleteObjectReference<IResourceObserver>(_self);
            }
            catch (Exception)
            {
                // The runtime is stopping already.
            }
        }
        return ValueTask.CompletedTask;
    }
}
