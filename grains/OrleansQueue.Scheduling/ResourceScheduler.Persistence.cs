using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

public sealed partial class ResourceScheduler
{
    /// <summary>The longest idempotency key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    private readonly IdempotencyTable _idempotency = new();
    private readonly ChangeTracker _changes = new();
    private long _queueSeq;

    /// <summary>Starts recording changes for <see cref="TakeChanges"/>. A host that persists calls it once, at activation.</summary>
    public void TrackChanges()
    {
        if (_changes.IsOn)
            return;
        _changes.Start(_rate.NextSeq);
        _idempotency.Added ??= [];
        _idempotency.Removed ??= [];
    }

    /// <summary>What changed since the last call: the host writes it in one transaction before announcing results.</summary>
    /// <exception cref="InvalidOperationException"><see cref="TrackChanges"/> was not called.</exception>
    public ResourceChanges TakeChanges()
    {
        if (!_changes.IsOn)
            throw new InvalidOperationException($"Resource \"{Name}\" does not track changes; call TrackChanges() at activation.");
        long writtenUpTo = _changes.WrittenWindowUpTo;
        var changes = new ResourceChanges
        {
            LastId = _nextId,
            LastFencingToken = _lastFencingToken,
            WindowHeadSeq = _rate.HeadSeq,
            WindowNextSeq = _rate.NextSeq,
            SavedAt = Now(),
            Policy = _changes.PolicyDirty ? _policy : null,
        };
        foreach (long id in _changes.Requests)
        {
            // Workers' polls are not stored: after a restart, workers ask again.
            if (_requests.TryGetValue(id, out var request))
            {
                if (request.Job is not null)
                    changes.UpsertJobs.Add(ToJobRecord(request));
                else if (request.State != RequestState.Polling)
                    changes.UpsertRequests.Add(ToRecord(request));
            }
            else
                changes.DeleteRequests.Add(id);
        }
        changes.AppendOutput.AddRange(_changes.Output);
        for (long seq = Math.Max(writtenUpTo, _rate.HeadSeq); seq < _rate.NextSeq; seq++)
            changes.UpsertWindow.Add(WindowRecordOf(seq));
        foreach (long seq in _changes.CorrectedWindow)
        {
            if (seq >= _rate.HeadSeq && seq < writtenUpTo)
                changes.UpsertWindow.Add(WindowRecordOf(seq));
        }
        changes.AddIdempotency.AddRange(_idempotency.Added!);
        _idempotency.Added!.Clear();
        changes.DeleteIdempotency.AddRange(_idempotency.Removed!);
        _idempotency.Removed!.Clear();
        _changes.Written(_rate.NextSeq);
        return changes;
    }

    /// <summary>
    /// Brings a resource back from its stored state. The time between <see cref="ResourceSnapshot.SavedAt"/> and now does
    /// not count against waiting requests and leases (their holders could not reach it), but spending in the window
    /// stays where it happened in real time, so no budget is granted twice. The restored grain tracks changes
    /// (see <see cref="TakeChanges"/>): whatever the restore itself changes, such as waits that ran out, is written next.
    /// </summary>
    public static ResourceScheduler Restore(string name, ResourceSnapshot snapshot, TimeProvider? time = null)
    {
        var grain = new ResourceScheduler(name, snapshot.Policy, time);
        grain._rate.Restore(snapshot.Window.Select(w => (w.Seq, w.At, w.Load, w.Requests)), snapshot.WindowNextSeq);
        grain.TrackChanges();
        grain.Load(snapshot);
        return grain;
    }

    private void Load(ResourceSnapshot snapshot)
    {
        long now = Now();
        long downtime = snapshot.SavedAt > 0 ? Math.Max(0, now - snapshot.SavedAt) : 0;
        _nextId = snapshot.LastId;
        _lastFencingToken = snapshot.LastFencingToken;
        // Renumbered in the same order, above every stored number, so stored and new requests never interleave.
        _queueSeq = Math.Max(snapshot.Requests.Select(r => r.QueueSeq).DefaultIfEmpty().Max(), snapshot.Jobs.Select(j => j.QueueSeq).DefaultIfEmpty().Max());
        foreach (var record in snapshot.Requests.Where(r => r.State != RequestStatusKind.Waiting))
        {
            var lease = FromRecord(record);
            bool unclaimed = record.State == RequestStatusKind.Granted;
            lease.State = unclaimed ? RequestState.Pending : RequestState.Active;
            _leases++;
            _leasedLoad += lease.Load;
            // A grant not yet claimed may never have reached its waiter: the activation that made it can have failed
            // before announcing it, its write landing in the store later. Its waiter gets a whole claim window from now,
            // once this activation can tell it (the slot stays taken meanwhile; nothing is granted twice).
            Arm(lease, unclaimed ? Math.Max(record.TimerAt + downtime, now + _claimWindow) : record.TimerAt + downtime);
        }
        foreach (var record in snapshot.Requests.Where(r => r.State == RequestStatusKind.Waiting).OrderBy(r => r.QueueSeq))
        {
            var request = FromRecord(record);
            request.EnqueuedAt += downtime;
            request.WaitDeadline += downtime;
            Enqueue(request);
        }
        foreach (var record in snapshot.Jobs.OrderBy(j => j.QueueSeq))
            RestoreJob(record, downtime);
        foreach (var chunk in snapshot.Output.OrderBy(c => c.JobId).ThenBy(c => c.Offset))
        {
            if (_requests.TryGetValue(chunk.JobId, out var job) && job.Job is { } info)
                (info.Output ??= new JobOutput()).Restore(chunk);
        }
        _idempotency.Restore(snapshot.Idempotency);
        Advance(now);
    }

    private Request FromRecord(RequestRecord record)
    {
        var request = new Request
        {
            Id = record.Id,
            ClientId = record.ClientId,
            Load = record.Load,
            Priority = record.Priority,
            Level = record.Level,
            EnqueuedAt = record.EnqueuedAt,
            WaitDeadline = record.WaitDeadline,
            FencingToken = record.FencingToken,
            GrantedAt = record.GrantedAt,
            WindowSeq = record.WindowSeq,
        };
        _requests.Add(request.Id, request);
        _nextId = Math.Max(_nextId, request.Id);
        _lastFencingToken = Math.Max(_lastFencingToken, request.FencingToken);
        return request;
    }

    private void RestoreJob(JobRecord record, long downtime)
    {
        var job = new Request
        {
            Id = record.Id, ClientId = record.ClientId, Load = record.Load, Priority = record.Priority, Level = record.Level,
            EnqueuedAt = record.EnqueuedAt + downtime, WaitDeadline = record.WaitDeadline == long.MaxValue ? long.MaxValue : record.WaitDeadline + downtime,
            FencingToken = record.FencingToken, GrantedAt = record.GrantedAt, WindowSeq = record.WindowSeq, QueueSeq = record.QueueSeq,
            Job = new JobInfo(record.Payload, record.MaxAttempts)
            {
                State = record.State, Attempts = record.Attempts, WorkerId = record.WorkerId, Progress = record.Progress,
                ProgressMessage = record.ProgressMessage, Result = record.Result, Error = record.Error,
                FirstEnqueuedAt = record.FirstEnqueuedAt, StartedAt = record.StartedAt, FinishedAt = record.FinishedAt,
            },
        };
        _requests.Add(job.Id, job);
        _nextId = Math.Max(_nextId, job.Id);
        _lastFencingToken = Math.Max(_lastFencingToken, job.FencingToken);
        _jobs.Restored(job);
        switch (record.State)
        {
            case JobState.Queued:
                QueueJob(job, front: false);
                break;
            case JobState.Running:
                job.State = RequestState.Active;
                _leases++;
                _leasedLoad += job.Load;
                Arm(job, record.TimerAt + downtime);
                break;
            case JobState.Retrying:
                job.State = RequestState.Retrying;
                Arm(job, record.TimerAt + downtime);
                break;
            default:
                job.State = RequestState.Finished;
                Arm(job, record.TimerAt + downtime);
                break;
        }
    }

    private static JobRecord ToJobRecord(Request r)
    {
        var j = r.Job!;
        return new JobRecord(r.Id, r.ClientId, r.Load, r.Priority, r.Level, j.State, j.Payload, j.MaxAttempts, j.Attempts,
            r.EnqueuedAt, r.WaitDeadline, r.TimerAt, r.QueueSeq, r.FencingToken, r.GrantedAt, r.WindowSeq, j.WorkerId,
            j.Progress, j.ProgressMessage, j.Result, j.Error, j.FirstEnqueuedAt, j.StartedAt, j.FinishedAt);
    }

    private static RequestRecord ToRecord(Request r) => new(
        r.Id, r.ClientId, r.Load, r.Priority, r.Level,
        r.State switch
        {
            RequestState.Waiting => RequestStatusKind.Waiting,
            RequestState.Pending => RequestStatusKind.Granted,
            _ => RequestStatusKind.Held,
        },
        r.EnqueuedAt, r.WaitDeadline, r.TimerAt, r.FencingToken, r.GrantedAt, r.WindowSeq, r.QueueSeq);

    private WindowRecord WindowRecordOf(long seq)
    {
        var e = _rate.Get(seq);
        return new WindowRecord(seq, e.At, e.Load, e.Requests);
    }

    /// <summary>Arms a request's timer; every change of a request's state passes here or through <see cref="Recycle"/>.</summary>
    private void Arm(Request request, long at)
    {
        _timers.Schedule(request, at, LiveTimers);
        _changes.RequestChanged(request.Id);
    }

    private static string IdempotencyKeyOf(string scope, string key) => scope + "\u001f" + key;

    private static string ReleaseKeyOf(long leaseId, string key) => IdempotencyKeyOf("release/" + leaseId, key);
}
