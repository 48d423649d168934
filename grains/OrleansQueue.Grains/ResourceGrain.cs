using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains;

/// <summary>
/// The Orleans grain of one resource: it hosts the resource's <see cref="ResourceScheduler"/> and makes what the
/// scheduler decides durable before anyone hears of it.
/// </summary>
/// <remarks>
/// <para>Activation claims the resource in the store (a new ownership epoch) and restores the scheduler from what was
/// claimed. Idle deactivation gives the claim up; any other deactivation (the silo stops, the grain moves) keeps it, so
/// that whoever activates the resource next knows it has work.</para>
/// <para>Group commit. Every operation runs on the scheduler synchronously, with no await between reading and changing
/// its state, then waits for the commit that holds its change: the one gathering now, written as soon as the write in
/// flight (if any) returns. The grain is reentrant so that operations can gather behind a write. What may interleave
/// is therefore only whole scheduler operations, between the awaits of other calls; each sees every change made before
/// it, committed or not, and its own reply waits for a commit that holds those changes too (batches are written in
/// order). Nothing is replied and nothing pushed before its commit, so no caller ever sees a grant that a crash could
/// take back. A read waits for the batch as well, for the same reason.</para>
/// <para>No answer from memory alone. A batch that changed nothing (its calls only read: a status, a wait, an attach, a
/// refusal) is not written, but before its answers leave, the store confirms that this activation's epoch is still the
/// resource's (one read per batch). An activation that another one has replaced (after a partition, or while membership
/// changes) so never answers from what it remembers: a ticket only the new owner knows is not called unknown, it is told
/// "moved", retryable, and the activation ends. A resource found missing at activation looks again before it says so.</para>
/// <para>A commit the store refuses (a later epoch exists: another activation owns the resource) or fails leaves this
/// activation's memory ahead of the store: its batch's calls are answered with a retryable problem, nothing of the batch
/// is announced, every later call is refused the same way, and the activation ends. The next activation reloads what
/// was committed.</para>
/// <para>Placement: a resource is activated on the silo its first caller reached, next to that caller's gateway.</para>
/// </remarks>
[Reentrant]
[Orleans.Placement.PreferLocalPlacement]
internal sealed partial class ResourceGrain(
    IGrainStore store,
    [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time,
    SiloMetrics metrics,
    LiveResources live,
    IOptions<OrleansQueueOptions> options,
    ILocalSiloDetails silo,
    ILogger<ResourceGrain> logger) : Grain, IResourceRequests, IResourceJobs, IResourceAdministration
{
    private readonly RecentOutcomes _outcomes = new();
    private ResourcePublisher? _publisher;
    private GroupCommit<Notice>? _commit;
    private string _name = "";
    private ResourceScheduler? _scheduler;
    private ResourceDefinition? _definition;
    private long _epoch;
    private long _sequence; // the last batch in the claimed state
    private Problem? _refusal;
    private bool _wentIdle;
    private bool _absent;
    private Task? _lookingAgain;
    private IGrainTimer? _deadlineTimer;
    private IGrainTimer? _idleTimer;

    private RequestObservers Observers => _publisher!.Observers;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _name = this.GetPrimaryKeyString();
        _publisher = new ResourcePublisher(_name, metrics, live, id => JobStreams.Of(this, _name, id), logger);
        await LoadAsync(cancellationToken);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            _definition = await store.GetResourceAsync(_name, cancellationToken);
            var claimed = _definition is null ? null : await store.ClaimAsync(_name, silo.SiloAddress.ToString(), cancellationToken);
            if (claimed is null)
            {
                _absent = true;
                _refusal = Problem.UnknownResource(_name);
                return;
            }
            _absent = false;
            _refusal = null;
            _epoch = claimed.Epoch;
            _sequence = claimed.Sequence;
            _scheduler = ResourceScheduler.Restore(_name, claimed.Snapshot, time);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The store did not answer: refuse what comes, and let the next call activate afresh.
            LogLoadFailed(ex, _name);
            _refusal = Problem.StoreFailed(_name);
            DeactivateOnIdle();
            return;
        }
        var scheduler = _scheduler;
        _commit = new GroupCommit<Notice>(_name, _epoch, _sequence, scheduler.TakeChanges, store, notices => _publisher!.Publish(notices, scheduler), OnCommitFailed);
        // Orleans grain timers on the grains' clock, armed at the next deadline: a tick is a turn like a call (the grain
        // is reentrant, so it interleaves at awaits); the deadline timer keeps the activation alive, the idle one does not.
        _deadlineTimer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = true });
        _idleTimer = this.RegisterGrainTimer(IdleCheckAsync, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true });
        LogActivated(_name, _epoch, _scheduler.WaitingCount, _scheduler.LeaseCount);
        // The first commit writes what the restore itself changed (deadlines that passed while no one ran the resource).
        await Run(s => { s.Tick(); return new Outcome<int>(); });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deadlineTimer?.Dispose();
        _idleTimer?.Dispose();
        if (_commit is not null)
            await _commit.Writing; // a failed write has answered its callers already
        live.Remove(_name);
        if (_wentIdle && _refusal is null)
        {
            try
            {
                await store.ReleaseAsync(_name, _epoch, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogReleaseFailed(ex, _name);
            }
        }
        // Whoever still listens (the grain moves, the silo stops) hears so, and attaches again wherever it now lives.
        _publisher?.Observers.TellMoved(_name);
        LogDeactivated(_name, reason.ReasonCode.ToString());
    }

    // ---- requests ----

    public Task<Outcome<RequestView>> Acquire(Caller caller, AcquireBody body, IResourceObserver? observer)
    {
        if (Validation.Of(body) is { } invalid)
            return Task.FromResult<Outcome<RequestView>>(invalid);
        string clientId = caller.GrainClientId(body.ClientId ?? "default");
        var maxWait = body.MaxWaitMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        return Run(s =>
        {
            var result = s.Acquire(clientId, body.Load ?? 1, (body.Priority ?? Contracts.Priority.Normal).ToScheduler(), maxWait, body.IdempotencyKey);
            if (result.Outcome == AcquireOutcome.Rejected)
            {
                metrics.Rejected(_name, result.Rejection.Reason.ToWire());
                return result.Rejection.ToProblem();
            }
            if (result.Outcome == AcquireOutcome.Granted)
                metrics.Granted(_name, TimeSpan.Zero);
            else if (observer is not null && _definition!.PushEnabled)
                Observers.Subscribe(result.RequestId, observer);
            var status = StatusOf(result.RequestId);
            var view = RequestView.Of(status, caller);
            if (observer is not null)
                view = view with { Push = _definition!.PushEnabled };
            return new Outcome<RequestView>(view, null);
        });
    }

    public Task<Outcome<RequestView>> Status(Caller caller, long id, IResourceObserver? unsubscribe) => Run(s =>
    {
        // Counted here, whoever asks (gateway or Orleans client): a poll. The end of a long-poll, which unsubscribes, is not one.
        if (unsubscribe is not null)
            Observers.Unsubscribe(id, unsubscribe);
        else
            metrics.StatusCalled(_name);
        return Owned(caller, id, out var status) ?? View(caller, Claim(s, status));
    });

    public Task<Outcome<RequestView>> WaitFor(Caller caller, long id, IResourceObserver observer) => Run(s =>
    {
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        if (status.Phase == RequestPhase.Waiting)
            Observers.Subscribe(id, observer);
        return View(caller, Claim(s, status));
    });

    public Task<Outcome<RequestView>> Attach(Caller caller, long id, IResourceObserver observer) => Run(_ =>
    {
        if (!_definition!.PushEnabled)
            return Problem.PollingOnly(_name);
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        if (!status.IsFinal)
            Observers.Subscribe(id, observer);
        return View(caller, status);
    });

    public Task Detach(long id, IResourceObserver observer)
    {
        Observers.Unsubscribe(id, observer);
        return Task.CompletedTask;
    }

    public Task UnwatchJob(long id, IResourceObserver observer) => Detach(id, observer);

    public Task<Outcome<RequestView>> Release(Caller caller, long id, ReleaseBody body) => Validation.Of(body) is { } invalid
        ? Task.FromResult<Outcome<RequestView>>(invalid)
        : Run(s =>
    {
        // A retry of a release that happened answers what the release did, from the key kept with it (a restart or a
        // failover forgets the lease, not the key), and reports nothing twice.
        if (body.IdempotencyKey is { } key && s.FindRelease(id, key) is { } released)
        {
            return caller.Owns(released.ClientId ?? "")
                ? View(caller, WireMapping.UpdateOf(_name, id, released) with { Phase = RequestPhase.Released })
                : Problem.UnknownRequest(_name, id);
        }
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        if (body.Upstream is { } upstream)
            Learn(s, upstream, id);
        return Ended(caller, status, s.Release(id, body.ActualLoad, body.IdempotencyKey), RequestPhase.Released);
    });

    public Task<Outcome<RequestView>> ReportUpstream(Caller caller, long id, UpstreamBody body) => Validation.Of(body) is { } invalid
        ? Task.FromResult<Outcome<RequestView>>(invalid)
        : Run(s =>
    {
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        Learn(s, body, id);
        return View(caller, StatusOf(id));
    });

    private void Learn(ResourceScheduler scheduler, UpstreamBody body, long id)
    {
        var report = body.ToReport();
        scheduler.ReportUpstream(report, id);
        if (report.IsThrottle && scheduler.Policy.Adaptive != OrleansQueue.Scheduling.AdaptiveMode.Off)
            metrics.Throttled(_name);
    }

    public Task<Outcome<RequestView>> Renew(Caller caller, long id) => Run(s =>
    {
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        var result = s.Renew(id);
        if (result.Outcome == LeaseOutcome.NotGranted)
            return Problem.NotGranted(_name, id);
        if (!result.IsOk)
            return Gone(status);
        var held = StatusOf(id);
        if (status.Phase == RequestPhase.Granted)
            Announce(held);
        return View(caller, held);
    });

    public Task<Outcome<RequestView>> Cancel(Caller caller, long id) => Run(s =>
    {
        if (Owned(caller, id, out var status) is { } missing)
            return missing;
        return Ended(caller, status, s.Cancel(id), status.Phase == RequestPhase.Waiting ? RequestPhase.Cancelled : RequestPhase.Released);
    });

    // ---- jobs ----

    public Task<Outcome<JobView>> Enqueue(Caller caller, EnqueueBody body)
    {
        if (Validation.Of(body) is { } invalid)
            return Task.FromResult<Outcome<JobView>>(invalid);
        string clientId = caller.GrainClientId(body.ClientId ?? "default");
        var deadline = body.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        string payload = body.Payload!.Value.GetRawText();
        return Run(s =>
        {
            var result = s.EnqueueJob(clientId, payload, body.Load ?? 1, (body.Priority ?? Contracts.Priority.Normal).ToScheduler(), deadline, body.IdempotencyKey);
            if (result.Outcome == AcquireOutcome.Rejected)
            {
                metrics.Rejected(_name, result.Rejection.Reason.ToWire());
                return result.Rejection.ToProblem();
            }
            return new Outcome<JobView>(WireMapping.ViewOf(_name, s.GetJob(result.RequestId)!, caller, withPayload: false), null);
        });
    }

    public Task<Outcome<JobView>> GetJob(Caller caller, long id, bool withPayload) => Run(s => OwnJob(s, caller, id, withPayload && caller.IsAdmin));

    public Task<Outcome<JobView>> WatchJob(Caller caller, long id, IResourceObserver? observer, bool requirePush) => Run(s =>
    {
        if (requirePush && !_definition!.PushEnabled)
            return Problem.PollingOnly(_name);
        var own = OwnJob(s, caller, id);
        if (own.Value is { IsFinished: false } && observer is not null)
            Observers.Subscribe(id, observer);
        return own;
    });

    public Task<Outcome<JobView>> CancelJob(Caller caller, long id) => Run(s =>
    {
        var own = OwnJob(s, caller, id);
        if (own.Problem is not null)
            return own;
        return s.CancelJob(id) switch
        {
            JobOutcome.Ok => OwnJob(s, caller, id),
            JobOutcome.NotYours => Problem.JobRunning(_name, id),
            _ => Problem.JobFinished(_name, id),
        };
    });

    public async Task<TakeAnswer> TakeJob(Caller caller, string workerId, int max, TimeSpan wait, IResourceObserver observer)
    {
        if (Validation.OfTake(caller, workerId, max) is { } invalid)
            return new TakeAnswer(invalid);
        long pollId = 0;
        var outcome = await Run(s =>
        {
            var taken = s.TakeJob(caller.GrainClientId(workerId), wait, max);
            pollId = taken.PollId;
            if (pollId != 0)
                Observers.Subscribe(pollId, observer);
            var jobs = new JobView[taken.Jobs.Count];
            for (int i = 0; i < jobs.Length; i++)
                jobs[i] = WireMapping.ViewOf(_name, taken.Jobs[i], caller, withPayload: true);
            return new Outcome<JobView[]>(jobs, null);
        });
        return new TakeAnswer(outcome, outcome.Problem is null ? pollId : 0);
    }

    public Task CancelPoll(long pollId) => Run(s =>
    {
        s.CancelPoll(pollId);
        Observers.Forget(pollId); // the worker went away: nothing is pushed to it
        return new Outcome<int>();
    });

    public Task<Outcome<JobView>> Report(Caller caller, long id, WorkerReportKind kind, WorkerReport report)
    {
        if (Validation.Of(caller, kind, report) is { } invalid)
            return Task.FromResult<Outcome<JobView>>(invalid);
        string worker = caller.GrainClientId(report.WorkerId!);
        return Run(s =>
        {
            var outcome = kind switch
            {
                WorkerReportKind.Heartbeat => s.Heartbeat(id, worker),
                WorkerReportKind.Progress => s.ReportProgress(id, worker, report.Progress!.Value, report.Message),
                WorkerReportKind.Complete => s.CompleteJob(id, worker, report.Result?.GetRawText(), report.ActualLoad),
                _ => s.FailJob(id, worker, report.Error!),
            };
            if (outcome == JobOutcome.Ok && report.Upstream is { } upstream)
                Learn(s, upstream, id); // what the upstream answered the job's call, as a lease's release tells it
            return outcome switch
            {
                JobOutcome.Ok => new Outcome<JobView>(WireMapping.ViewOf(_name, s.GetJob(id)!, caller, withPayload: false), null),
                JobOutcome.NotYours => Problem.NotYourJob(_name, id, report.WorkerId!),
                JobOutcome.Finished => Problem.JobFinished(_name, id),
                _ => Problem.UnknownJob(_name, id),
            };
        });
    }

    public Task<Outcome<JobView>> AppendOutput(Caller caller, long id, OutputBody body)
    {
        if (Validation.Of(caller, body) is { } invalid)
            return Task.FromResult<Outcome<JobView>>(invalid);
        string worker = caller.GrainClientId(body.WorkerId!);
        return Run(s => s.AppendOutput(id, worker, body.Text!, body.Offset) switch
        {
            JobOutcome.Ok => new Outcome<JobView>(WireMapping.ViewOf(_name, s.GetJob(id)!, caller, withPayload: false), null),
            JobOutcome.OutputFull => Problem.OutputFull(_name, id, s.Policy.JobMaxOutputBytes),
            JobOutcome.OutputConflict => Problem.OutputConflict(_name, id, s.GetJob(id)!.OutputLength),
            JobOutcome.NotYours => Problem.NotYourJob(_name, id, body.WorkerId!),
            JobOutcome.Finished => Problem.JobFinished(_name, id),
            _ => Problem.UnknownJob(_name, id),
        });
    }

    public Task<Outcome<JobOutputView>> ReadOutput(Caller caller, long id, long after) => Run(s =>
    {
        if (OwnJob(s, caller, id).Problem is { } unknown)
            return unknown;
        try
        {
            return new Outcome<JobOutputView>(WireMapping.ViewOf(_name, id, s.ReadOutput(id, after)!), null);
        }
        catch (ArgumentOutOfRangeException)
        {
            return Problem.Invalid("after", $"after must be an offset this job's output gave: from 0 to its length ({s.GetJob(id)!.OutputLength} bytes), at a character's start; it is {after}.");
        }
    });

    // ---- the resource ----

    public Task<Outcome<StatsView>> Stats(Caller caller) =>
        Run(s => new Outcome<StatsView>(StatsMapping.ToView(s.GetStats(), caller) with { Silo = silo.SiloAddress.ToString() }, null));

    public Task<Outcome<ResourceDetailView>> Detail(Caller caller, int max) => Run(s =>
    {
        var detail = StatsMapping.ToDetail(_name, s, caller, max);
        return new Outcome<ResourceDetailView>(detail with { Stats = detail.Stats with { Silo = silo.SiloAddress.ToString() } }, null);
    });

    public async Task Reload()
    {
        if (_scheduler is null)
        {
            await LoadAsync(CancellationToken.None);
            return;
        }
        var definition = await store.GetResourceAsync(_name, CancellationToken.None);
        if (definition is null)
            return;
        await Run(s =>
        {
            s.UpdatePolicy(definition.Policy);
            _definition = definition;
            return new Outcome<int>();
        });
    }

    public async Task Close()
    {
        if (_scheduler is null)
            return;
        await Run(s => { s.Close(); return new Outcome<int>(); });
        _refusal = Problem.UnknownResource(_name);
        DeactivateOnIdle();
    }

    public Task Wake() => Task.CompletedTask;

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        var ticked = await Run(s => { s.Tick(); return new Outcome<int>(); });
        if (ticked.Problem is { } problem)
            LogTickRefused(_name, problem.Type, problem.Detail);
    }

    private Task IdleCheckAsync(CancellationToken cancellationToken)
    {
        if (_scheduler is { HasPendingWork: false } && Observers.Count == 0 && _commit is { IsIdle: true })
        {
            _wentIdle = true;
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    // ---- the turn and its commit ----

    /// <summary>Runs <paramref name="operation"/> on the scheduler at once, then answers once its changes are committed.</summary>
    private async Task<Outcome<T>> Run<T>(Func<ResourceScheduler, Outcome<T>> operation, [CallerMemberName] string name = "")
    {
        using var activity = SiloTelemetry.StartOperation(name, _name);
        if (_absent)
            await LookAgainAsync();
        if (_refusal is { } refused || _scheduler is not { } scheduler)
            return _refusal ?? Problem.UnknownResource(_name);
        Outcome<T> outcome;
        try
        {
            outcome = operation(scheduler);
        }
        finally
        {
            CollectEvents(scheduler);
            ArmTimers(scheduler);
        }
        try
        {
            using var commit = activity is null ? null : SiloTelemetry.Source.StartActivity("commit");
            await _commit!.CommitAsync();
        }
        catch (CommitFailedException failed)
        {
            activity?.SetStatus(ActivityStatusCode.Error, failed.Problem.Detail);
            return failed.Problem;
        }
        if (outcome.Problem is { } problem)
            activity?.SetTag("orleansqueue.problem", problem.Type);
        return outcome;
    }

    /// <summary>The resource was missing when this activation looked: it may have been created since (through another
    /// activation, or while this one's silo was cut off). Calls look again, one read at a time, before they say it is unknown.</summary>
    private async Task LookAgainAsync()
    {
        var looking = _lookingAgain ??= LoadAsync(CancellationToken.None);
        try
        {
            await looking;
        }
        finally
        {
            if (_lookingAgain == looking)
                _lookingAgain = null;
        }
    }

    /// <summary>The memory of this activation is ahead of the store, or not known to be the owner's (see
    /// <see cref="GroupCommit{TNotice}"/>): every later call is refused the same way, and the activation ends.</summary>
    private void OnCommitFailed(Exception error, Problem problem)
    {
        LogCommitFailed(error, _name);
        _refusal = problem;
        DeactivateOnIdle();
    }

    /// <summary>
    /// Takes the events the last operation caused. Endings are remembered at once, so a later operation that asks about
    /// the request finds how it ended; observers hear of them only after the commit.
    /// </summary>
    private void CollectEvents(ResourceScheduler scheduler)
    {
        foreach (var e in scheduler.Events)
        {
            var update = WireMapping.UpdateOf(_name, e);
            if (update.IsFinal)
                _outcomes.Record(update);
            _commit!.Announce(new Notice(update, e));
        }
        scheduler.ClearEvents();
    }

    /// <summary>Tells a request's observers of <paramref name="update"/> once the batch gathering now is durable; an ending is
    /// remembered at once.</summary>
    private void Announce(RequestUpdate update)
    {
        if (update.IsFinal)
            _outcomes.Record(update);
        _commit!.Announce(new Notice(update, null));
    }

    /// <summary>Arms the deadline timer at the scheduler's next deadline (never polled) and the idle timer when nothing is pending.</summary>
    private void ArmTimers(ResourceScheduler scheduler)
    {
        if (scheduler.GetNextDeadline() is { } deadline)
        {
            var due = deadline - time.GetUtcNow();
            _deadlineTimer?.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _deadlineTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        _idleTimer?.Change(scheduler.HasPendingWork ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(options.Value.IdleTimeoutSeconds), Timeout.InfiniteTimeSpan);
    }

    // ---- the rules shared by the operations ----

    /// <summary>Where request <paramref name="id"/> stands: live in the scheduler, recently ended, or unknown.</summary>
    private RequestUpdate StatusOf(long id)
    {
        var status = _scheduler!.GetStatus(id);
        if (status.Kind != RequestStatusKind.Unknown)
            return WireMapping.UpdateOf(_name, id, status);
        return _outcomes.Find(id) ?? new RequestUpdate(_name, id, RequestPhase.Unknown, "");
    }

    /// <summary>Finds request <paramref name="id"/> if it belongs to the caller; otherwise the answer is "unknown", whoever owns it.</summary>
    private Problem? Owned(Caller caller, long id, out RequestUpdate status)
    {
        status = StatusOf(id);
        return status.Phase == RequestPhase.Unknown || !caller.Owns(status.ClientId) ? Problem.UnknownRequest(_name, id) : null;
    }

    private RequestUpdate Claim(ResourceScheduler scheduler, RequestUpdate status)
    {
        if (status.Phase != RequestPhase.Granted || !scheduler.Renew(status.Id).IsOk)
            return status;
        var held = StatusOf(status.Id);
        Announce(held);
        return held;
    }

    private Outcome<RequestView> Ended(Caller caller, RequestUpdate status, LeaseResult result, RequestPhase phase)
    {
        if (result.Outcome == LeaseOutcome.NotGranted)
            return Problem.NotGranted(_name, status.Id);
        if (!result.IsOk)
            return Gone(status);
        // A replayed release finds the lease already ended: answer what it ended as.
        var ended = status.IsFinal ? status : status with { Phase = phase, Position = 0 };
        if (!status.IsFinal)
            Announce(ended);
        return View(caller, ended);
    }

    private Problem Gone(RequestUpdate status) => status.IsFinal
        ? Problem.Ended(_name, status.Id, status.Phase.ToString())
        : Problem.UnknownRequest(_name, status.Id);

    private static Outcome<RequestView> View(Caller caller, RequestUpdate status) => new(RequestView.Of(status, caller), null);

    private Outcome<JobView> OwnJob(ResourceScheduler scheduler, Caller caller, long id, bool withPayload = false) =>
        scheduler.GetJob(id) is { } job && (caller.IsAdmin || caller.Owns(job.ClientId))
            ? new Outcome<JobView>(WireMapping.ViewOf(_name, job, caller, withPayload), null)
            : Problem.UnknownJob(_name, id);

    [LoggerMessage(LogLevel.Information, "Resource {Resource} activated under epoch {Epoch} with {Waiting} waiting and {Leases} leases")]
    private partial void LogActivated(string resource, long epoch, int waiting, int leases);

    [LoggerMessage(LogLevel.Debug, "Resource {Resource} deactivated ({Reason})")]
    private partial void LogDeactivated(string resource, string reason);

    [LoggerMessage(LogLevel.Error, "Resource {Resource}: the store refused or did not confirm a commit or the ownership check; the activation is discarded and will reload")]
    private partial void LogCommitFailed(Exception ex, string resource);

    [LoggerMessage(LogLevel.Error, "Resource {Resource} could not be loaded from the store")]
    private partial void LogLoadFailed(Exception ex, string resource);

    [LoggerMessage(LogLevel.Warning, "Resource {Resource}: giving up the claim failed")]
    private partial void LogReleaseFailed(Exception ex, string resource);

    [LoggerMessage(LogLevel.Warning, "Resource {Resource}: the deadline timer's turn was refused ({Type}: {Detail})")]
    private partial void LogTickRefused(string resource, string type, string detail);
}
