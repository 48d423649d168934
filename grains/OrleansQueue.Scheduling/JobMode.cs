using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// Job mode's own book: the jobs' waitlist, the workers waiting for a job, and the job's side of every step it goes
/// through (queued, running under a worker, retrying, finished), with how many jobs stand in each state and the counts and
/// times <see cref="JobStats"/> shows. It decides nothing about budget, timers or events: the scheduler grants, arms and
/// announces, and calls here so that a job's state, its attempts and the counts never disagree.
/// </summary>
internal sealed class JobMode
{
    private readonly ClientQueue _workers = new(new ClientState("workers"), 0);
    private readonly int[] _inState = new int[Enum.GetValues<JobState>().Length];
    private readonly Dictionary<long, Request> _unheard = [];
    private readonly LatencyHistogram _queueTimes = new();
    private readonly LatencyHistogram _runTimes = new();
    private long _enqueued, _completed, _failed, _retried, _recovered, _deadLettered;

    /// <summary>Jobs waiting for a worker, in the same order as acquires.</summary>
    public Waitlist Queue { get; } = new();

    /// <summary>Workers waiting for a job, the longest-waiting first.</summary>
    public int WaitingWorkers => _workers.Count;

    /// <summary>Jobs that wait on time or a worker: queued, running or retrying. Finished jobs wait only for their retention.</summary>
    public int Pending => Queue.Count + _workers.Count + In(JobState.Retrying);

    /// <summary>Job mode's timers beside the leases': the queued jobs, the waiting workers, the retrying and the finished jobs
    /// (a running job's timer is its lease's).</summary>
    public int Timed => Queue.Count + _workers.Count + In(JobState.Retrying) + Finished;

    private int Finished => In(JobState.Completed) + In(JobState.DeadLettered) + In(JobState.Cancelled);

    /// <summary>The most urgent level a job could be served at: none while no worker waits, since a job competes for budget only then.</summary>
    public int EligibleTopLevel => _workers.Count > 0 ? Queue.TopLevel() : PriorityLevels.Count;

    /// <summary>The job to serve next, while a worker waits for one.</summary>
    public Request? EligibleHead => _workers.Count > 0 ? Queue.Head : null;

    /// <summary>The job to serve next at <paramref name="level"/>, while a worker waits for one.</summary>
    public Request? EligibleHeadAt(int level) => _workers.Count > 0 ? Queue.HeadAt(level) : null;

    /// <summary>Whether jobs at <paramref name="level"/> could use budget now.</summary>
    public bool BackloggedAt(int level) => _workers.Count > 0 && Queue.WaitingAt(level) > 0;

    /// <summary>A new job: <paramref name="request"/> carries the payload from now on.</summary>
    public void Created(Request request, string payload, int maxAttempts, long now)
    {
        request.Job = new JobInfo(payload, maxAttempts) { FirstEnqueuedAt = now };
        _inState[(int)JobState.Queued]++;
        _enqueued++;
    }

    /// <summary>A job the store gave back, in the state it was stored in.</summary>
    public void Restored(Request request) => _inState[(int)request.Job!.State]++;

    /// <summary>A job whose retention has ended, forgotten.</summary>
    public void Forgotten(Request request) => _inState[(int)request.Job!.State]--;

    /// <summary>Puts a job in the waitlist: new at the back of its client's queue, or back at the front (its worker fell
    /// silent, its backoff ended), keeping its place in time.</summary>
    public void Queued(Request job, bool front)
    {
        Move(job.Job!, JobState.Queued);
        job.Job!.WorkerId = null;
        Queue.Enqueue(job, front);
    }

    /// <summary>A worker starts waiting for a job.</summary>
    public void WorkerWaits(Request poll) => _workers.Append(poll);

    /// <summary>A worker stops waiting (it took a job, its wait ended, it went away).</summary>
    public void WorkerLeaves(Request poll) => _workers.Unlink(poll);

    /// <summary>The job at the head goes to the longest-waiting worker, whose poll is returned (and has left the workers).</summary>
    public Request Start(Request job, long now)
    {
        var poll = _workers.Head!;
        _workers.Unlink(poll);
        var info = job.Job!;
        Move(info, JobState.Running);
        info.Attempts++;
        info.WorkerId = poll.ClientId;
        info.StartedAt = now;
        _queueTimes.Record((now - info.FirstEnqueuedAt) / TimeSpan.TicksPerMicrosecond);
        return poll;
    }

    /// <summary>The job went to a worker's waiting poll by an event: until the worker acts on it, the poll's end can give it back.</summary>
    public void Pushed(Request job, Request poll)
    {
        job.Job!.PushedTo = poll.Id;
        _unheard[poll.Id] = job;
    }

    /// <summary>The worker acted on its job, so the job reached it.</summary>
    public void Heard(Request job) => Forget(job.Job!);

    /// <summary>Takes back the job pushed to <paramref name="pollId"/> that its worker never acted on (null if none): the
    /// attempt it never made is not counted. The scheduler queues it again.</summary>
    public Request? TakeBackUnheard(long pollId)
    {
        if (!_unheard.Remove(pollId, out var job))
            return null;
        job.Job!.PushedTo = 0;
        job.Job.Attempts--;
        return job;
    }

    /// <summary>Whether <paramref name="workerId"/> runs the job now; otherwise why it may not act on it.</summary>
    public static JobOutcome? CheckRunning(Request? job, string workerId)
    {
        if (job?.Job is null)
            return JobOutcome.NotFound;
        if (job.State == RequestState.Finished)
            return JobOutcome.Finished;
        return job.Job.State == JobState.Running && job.Job.WorkerId == workerId ? null : JobOutcome.NotYours;
    }

    /// <summary>The running job ended well.</summary>
    public void Completed(Request job, string? result, long now)
    {
        job.Job!.Result = result;
        _completed++;
        _runTimes.Record((now - job.Job.StartedAt) / TimeSpan.TicksPerMicrosecond);
        Finish(job, JobState.Completed, now);
    }

    /// <summary>The running job's attempt failed: it retries (true: the scheduler arms its backoff) or, after its last
    /// attempt, is dead-lettered (false).</summary>
    public bool Failed(Request job, string error, long now)
    {
        var info = job.Job!;
        info.Error = error;
        _failed++;
        _runTimes.Record((now - info.StartedAt) / TimeSpan.TicksPerMicrosecond);
        if (info.Attempts >= info.MaxAttempts)
        {
            Finish(job, JobState.DeadLettered, now);
            return false;
        }
        _retried++;
        Move(info, JobState.Retrying);
        info.WorkerId = null;
        job.State = RequestState.Retrying;
        return true;
    }

    /// <summary>The running job's worker fell silent: it queues again (true: the scheduler puts it back) or, on its last
    /// attempt, is dead-lettered (false).</summary>
    public bool Recovered(Request job, long now)
    {
        var info = job.Job!;
        _recovered++;
        if (info.Attempts < info.MaxAttempts)
            return true;
        info.Error = $"Worker \"{info.WorkerId}\" stopped answering on the last of {info.MaxAttempts} attempts.";
        Finish(job, JobState.DeadLettered, now);
        return false;
    }

    /// <summary>Ends a job (completed, dead-lettered or cancelled) from whatever state it was in; it is kept for its retention.</summary>
    public void Finish(Request job, JobState state, long now)
    {
        var info = job.Job!;
        Move(info, state);
        if (state == JobState.DeadLettered)
            _deadLettered++;
        info.FinishedAt = now;
        job.State = RequestState.Finished;
    }

    /// <summary>The backoff before attempt <paramref name="attempts"/> + 1: the policy's delay, doubled per attempt since the
    /// first, at most an hour.</summary>
    public static long RetryDelay(ResourcePolicy policy, int attempts)
    {
        long delay = policy.JobRetryDelay.Ticks;
        for (int i = 1; i < attempts && delay < TimeSpan.TicksPerHour; i++)
            delay *= 2;
        return Math.Min(delay, TimeSpan.TicksPerHour);
    }

    /// <summary>The job as callers see it.</summary>
    public JobStatus StatusOf(Request job)
    {
        var info = job.Job!;
        return new JobStatus(job.Id, job.ClientId, info.State, job.Priority, job.Load, info.Payload, info.Attempts, info.MaxAttempts,
            job.State == RequestState.Waiting ? Queue.Position(job) : 0,
            info.WorkerId, info.Progress, info.ProgressMessage, info.Result, info.Error,
            info.State == JobState.Running ? job.FencingToken : 0,
            info.State == JobState.Running ? ResourceScheduler.ToTime(job.TimerAt) : null,
            ResourceScheduler.ToTime(info.FirstEnqueuedAt),
            info.FinishedAt > 0 ? ResourceScheduler.ToTime(info.FinishedAt) : null,
            info.StartedAt > 0 ? ResourceScheduler.ToTime(info.StartedAt) : null,
            info.Output?.Length ?? 0);
    }

    public JobStats Stats() => new()
    {
        ByState = Enum.GetValues<JobState>().ToDictionary(s => s, In),
        QueuedByPriority = Enumerable.Range(0, PriorityLevels.Count).Select(Queue.WaitingAt).ToArray(),
        QueuedByClient = Queue.WaitingByClient(),
        WaitingWorkers = _workers.Count,
        Enqueued = _enqueued,
        Completed = _completed,
        Failed = _failed,
        Retried = _retried,
        Recovered = _recovered,
        DeadLettered = _deadLettered,
        QueueTimeP50 = _queueTimes.TimeAt(0.5),
        QueueTimeP99 = _queueTimes.TimeAt(0.99),
        RunTimeP50 = _runTimes.TimeAt(0.5),
        RunTimeP99 = _runTimes.TimeAt(0.99),
    };

    private int In(JobState state) => _inState[(int)state];

    private void Forget(JobInfo info)
    {
        if (info.PushedTo == 0)
            return;
        _unheard.Remove(info.PushedTo);
        info.PushedTo = 0;
    }

    private void Move(JobInfo info, JobState to)
    {
        Forget(info);
        _inState[(int)info.State]--;
        info.State = to;
        _inState[(int)to]++;
    }
}
