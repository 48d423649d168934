using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Model;

/// <summary>
/// Job mode in the model run: jobs share the budget with acquires, so every hand-out to a worker is checked like a
/// grant (budget in every window, fencing order), a running job is a lease until its visibility deadline, and at the
/// end every job is finished.
/// </summary>
internal sealed partial class ModelRun
{
    private static readonly string[] Workers = ["w1", "w2", "w3"];
    private readonly HashSet<long> _jobs = [];
    private readonly HashSet<long> _polls = [];

    private void JobOperation()
    {
        int dice = _rng.Next(100);
        if (dice < 40) EnqueueJob();
        else if (dice < 65) TakeJob();
        else if (dice < 80) FinishJob(complete: true);
        else if (dice < 90) FinishJob(complete: false);
        else Heartbeat();
    }

    private void EnqueueJob()
    {
        string client = Clients[_rng.Next(Clients.Length)];
        var priority = (Priority)_rng.Next(PriorityLevels.Count);
        long load = RandomLoad();
        AcquireResult result = default;
        Do($"enqueue job {client} load {load} {priority}", () => result = _grain.EnqueueJob(client, "{}", load, priority));
        if (result.Outcome == AcquireOutcome.Queued)
            _jobs.Add(result.RequestId);
        else if (result.Rejection.Reason == RejectionReason.InvalidLoad)
            Expect(load > _model.Policy.LoadPerWindow, $"job refused as invalid load though {load} fits");
    }

    private void TakeJob()
    {
        string worker = Workers[_rng.Next(Workers.Length)];
        var wait = _rng.Next(2) == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(_rng.Next(1, 5_000));
        TakeJobResult result = default;
        Settle();
        Do($"take job {worker} wait {wait.TotalMilliseconds}", () => result = _grain.TakeJob(worker, wait), () =>
        {
            if (result.Job is { } job)
                OnJobHandedOut(job.Id);
            else if (result.PollId != 0)
                _polls.Add(result.PollId);
        });
    }

    private void FinishJob(bool complete)
    {
        var running = _model.Leases.Values.Where(l => _jobs.Contains(l.Id)).ToList();
        if (running.Count == 0)
            return;
        var lease = running[_rng.Next(running.Count)];
        var job = _grain.GetJob(lease.Id)!;
        long? actual = complete && _rng.Next(2) == 0 ? _rng.NextInt64(0, lease.Load + 1) : null;
        JobOutcome outcome = default;
        Settle();
        Do($"{(complete ? "complete" : "fail")} job {lease.Id} by {job.WorkerId}",
            () => outcome = complete ? _grain.CompleteJob(lease.Id, job.WorkerId!, "ok", actual) : _grain.FailJob(lease.Id, job.WorkerId!, "boom"),
            () =>
            {
                Expect(outcome == JobOutcome.Ok, $"the running job's own worker was answered {outcome}");
                if (actual is { } a)
                    _model.Correct(lease, a, Now);
                _model.Leases.Remove(lease.Id);
            });
    }

    private void Heartbeat()
    {
        var running = _model.Leases.Values.Where(l => _jobs.Contains(l.Id)).ToList();
        if (running.Count == 0)
            return;
        var lease = running[_rng.Next(running.Count)];
        string worker = _grain.GetJob(lease.Id)!.WorkerId!;
        Settle();
        Do($"heartbeat job {lease.Id}", () => Expect(_grain.Heartbeat(lease.Id, worker) == JobOutcome.Ok, "a heartbeat of a running job was refused"),
            () => lease.ExpiresAt = Now + _model.Policy.JobVisibilityTimeout.Ticks);
    }

    /// <summary>A job handed to a worker is a grant: it must fit the budget, and it holds a lease until its visibility deadline.</summary>
    private void OnJobHandedOut(long jobId)
    {
        var job = _grain.GetJob(jobId)!;
        Expect(job.State == JobState.Running, $"job {jobId} was handed out but is {job.State}");
        Expect(job.FencingToken > _model.LastFencingToken, $"job fencing token {job.FencingToken} after {_model.LastFencingToken}");
        _model.LastFencingToken = job.FencingToken;
        if (_model.WhyItDoesNotFit(job.Load, Now) is { } why)
            Expect(false, $"job {jobId} (load {job.Load}) handed out beyond the budget: {why}");
        var lease = _model.AddLease(jobId, job.ClientId, job.Load, Now, job.VisibleUntil!.Value.UtcTicks, claimed: true);
        lease.FencingToken = job.FencingToken;
        Grants++;
    }

    private bool OnJobEvent(ResourceEvent e)
    {
        switch (e.Kind)
        {
            case ResourceEventKind.JobAssigned:
                Expect(_polls.Remove(e.RequestId), $"job assigned to poll {e.RequestId}, which was not waiting");
                OnJobHandedOut(e.JobId);
                return true;
            case ResourceEventKind.PollExpired:
                Expect(_polls.Remove(e.RequestId), $"poll {e.RequestId} expired but was not waiting");
                return true;
            case ResourceEventKind.JobChanged:
                // A lease the model holds for the job ended unless the job still runs under the same token.
                if (_model.Leases.TryGetValue(e.RequestId, out var lease))
                {
                    var job = _grain.GetJob(e.RequestId);
                    if (job is null || job.State != JobState.Running || job.FencingToken != lease.FencingToken)
                    {
                        Expect(lease.ExpiresAt <= Now, $"job {e.RequestId} taken from its worker {TimeSpan.FromTicks(lease.ExpiresAt - Now)} early");
                        _model.Leases.Remove(e.RequestId);
                    }
                }
                return true;
            default:
                return false;
        }
    }

    /// <summary>Whether a job could be blocking the acquire waitlist (queued, with a worker waiting).</summary>
    private bool JobsCompete => _polls.Count > 0 && _grain.QueuedJobCount > 0;

    private void DrainJobs()
    {
        Settle();
        foreach (long poll in _polls.ToList())
            Do($"final cancel poll {poll}", () => _grain.CancelPoll(poll), () => _polls.Remove(poll));
        foreach (long id in _jobs)
        {
            var job = _grain.GetJob(id);
            if (job is null || job.State is JobState.Completed or JobState.DeadLettered or JobState.Cancelled)
                continue;
            if (job.State == JobState.Running)
                Do($"final complete job {id}", () => _grain.CompleteJob(id, job.WorkerId!, "ok"), () => _model.Leases.Remove(id));
            else
                Do($"final cancel job {id}", () => Expect(_grain.CancelJob(id) == JobOutcome.Ok, $"job {id} ({job.State}) could not be cancelled"));
        }
        var stats = _grain.GetStats().Jobs;
        Expect(stats.ByState[JobState.Queued] == 0 && stats.ByState[JobState.Running] == 0 && stats.ByState[JobState.Retrying] == 0,
            "jobs left unfinished at the end");
    }
}
