using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// Job mode: callers enqueue payloads; workers ask for the next job and run it under the resource's budget. Jobs wait
/// in a waitlist of their own with the same order as acquires (strict priority, fair across clients by load, FIFO
/// within a client); a job competes with acquires for the budget only while a worker is waiting for one, and then in
/// priority order, the older first at equal priority. A running job holds a lease for its visibility timeout, renewed
/// by heartbeats and progress; a worker that falls silent loses the job, which goes back to the head of its client's
/// queue. Failures retry with exponential backoff up to the policy's attempts, then the job is dead-lettered.
/// </summary>
public sealed partial class ResourceScheduler
{
    private readonly JobMode _jobs = new();

    /// <summary>Jobs queued now.</summary>
    public int QueuedJobCount => _jobs.Queue.Count;

    /// <summary>Whether anything waits on time or a worker: requests, leases, queued or retrying jobs, waiting workers.
    /// A host may put a grain without pending work to sleep; finished jobs' retention ends at its next activation.</summary>
    public bool HasPendingWork => _waitlist.Count + _leases + _jobs.Pending > 0;

    /// <summary>
    /// Enqueues a job. Answers <see cref="AcquireOutcome.Queued"/> with the job's id and position, or a typed rejection as
    /// for acquires. A worker may take it at once (a <see cref="ResourceEventKind.JobAssigned"/> event).
    /// </summary>
    /// <param name="payload">Opaque to the resource; handed to the worker.</param>
    /// <param name="deadline">When set, a job no worker has taken within this time is dead-lettered.</param>
    /// <param name="idempotencyKey">A retry with the same client and key within a day answers the same job.</param>
    public AcquireResult EnqueueJob(string clientId, string payload, long load = 1, Priority priority = Priority.Normal,
        TimeSpan? deadline = null, string? idempotencyKey = null)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var result = EnqueueJobChecked(clientId, payload, load, priority, deadline, idempotencyKey);
        if (result.Outcome == AcquireOutcome.Rejected)
            RecordRejection(clientId, load, priority, result.Rejection);
        return result;
    }

    private AcquireResult EnqueueJobChecked(string clientId, string payload, long load, Priority priority, TimeSpan? deadline, string? idempotencyKey)
    {
        if (ValidateAcquire(clientId, load, priority, null, idempotencyKey) is { } invalid)
            return Reject(invalid);
        if (deadline is { } d && (d <= TimeSpan.Zero || d > ResourcePolicy.MaxDuration))
        {
            return Reject(new(RejectionReason.InvalidRequest,
                $"deadline must be above zero and at most {ResourcePolicy.MaxDuration}; it is {d}.", Field: "deadline"));
        }
        long now = Now();
        Advance(now);
        string? key = idempotencyKey is null ? null : IdempotencyKeyOf("job/" + clientId, idempotencyKey);
        if (key is not null && _idempotency.TryGet(key, now, out var earlier))
        {
            return _requests.TryGetValue(earlier.RequestId, out var same) && same.State == RequestState.Waiting
                ? AcquireResult.Queued(same.Id, _jobs.Queue.Position(same))
                : AcquireResult.Queued(earlier.RequestId, 0);
        }
        var queue = _jobs.Queue;
        if (NoPlaceIn(queue, clientId, now, "jobs") is { } full)
            return full;
        var job = Rent(clientId, load, priority, now);
        _jobs.Created(job, payload, _policy.JobMaxAttempts, now);
        job.WaitDeadline = deadline is { } after ? now + after.Ticks : long.MaxValue;
        QueueJob(job, front: false);
        TryGrant(now);
        if (key is not null)
            _idempotency.Add(new IdempotencyRecord(key, job.Id, AcquireOutcome.Queued, 0, 0, now));
        return AcquireResult.Queued(job.Id, job.State == RequestState.Waiting ? queue.Position(job) : 0);
    }

    /// <summary>The most jobs one take may hand out.</summary>
    public const int MaxJobsPerTake = 100;

    /// <summary>
    /// A worker asks for up to <paramref name="max"/> jobs. Answers the jobs queued that the budget allows now, the longest-waiting
    /// workers served first; when there are none, with a <paramref name="wait"/>, the worker waits (the answer carries its poll
    /// id, and a JobAssigned event with one job, or a PollExpired event, follows).
    /// </summary>
    /// <exception cref="ArgumentException">The worker id is blank or too long, the wait is negative or above MaxWait, or
    /// <paramref name="max"/> is not between 1 and <see cref="MaxJobsPerTake"/>.</exception>
    public TakeJobResult TakeJob(string workerId, TimeSpan? wait = null, int max = 1)
    {
        if (string.IsNullOrWhiteSpace(workerId) || workerId.Length > MaxClientIdLength)
            throw new ArgumentException($"workerId must be a non-blank string of at most {MaxClientIdLength} characters.", nameof(workerId));
        long waitTicks = wait?.Ticks ?? 0;
        if (waitTicks < 0 || waitTicks > _maxWait)
            throw new ArgumentOutOfRangeException(nameof(wait), wait, $"wait must be between zero and MaxWait ({DurationText.Of(_policy.MaxWait)}).");
        if (max is < 1 or > MaxJobsPerTake)
            throw new ArgumentOutOfRangeException(nameof(max), max, $"max must be between 1 and {MaxJobsPerTake}.");
        long now = Now();
        Advance(now);
        var taken = new List<JobStatus>(Math.Min(max, _jobs.Queue.Count));
        while (true)
        {
            // Each job is one poll answered at once: the worker stands behind the workers already waiting.
            var poll = Rent(workerId, 0, Priority.Normal, now);
            poll.State = RequestState.Polling;
            poll.WaitDeadline = now + waitTicks;
            _jobs.WorkerWaits(poll);
            if (TryGrant(now, present: poll) is { } job)
            {
                taken.Add(_jobs.StatusOf(job));
                if (taken.Count < max)
                    continue;
                return new TakeJobResult(taken);
            }
            if (taken.Count > 0 || waitTicks == 0)
            {
                // While the worker was there, a job it could not take (no budget) may have held up acquires behind it.
                EndPoll(poll);
                TryGrant(now);
                return new TakeJobResult(taken);
            }
            Arm(poll, poll.WaitDeadline);
            return new TakeJobResult(taken, poll.Id);
        }
    }

    /// <summary>Ends a worker's wait for a job (its connection went away). A job already pushed to that wait, which the
    /// worker has not acted on, may never have reached it: it goes back to the front of the waitlist, the attempt not counted,
    /// instead of waiting out its visibility timeout. Returns whether the wait or such a job was found.</summary>
    public bool CancelPoll(long pollId)
    {
        long now = Now();
        if (_requests.TryGetValue(pollId, out var poll) && poll.State == RequestState.Polling)
        {
            EndPoll(poll);
            Advance(now);
            return true;
        }
        if (_jobs.TakeBackUnheard(pollId) is not { } job)
            return false;
        ReleaseBudget(job);
        QueueJob(job, front: true);
        JobChanged(job, now);
        Advance(now);
        return true;
    }

    /// <summary>The worker is alive: its job stays invisible for another visibility timeout.</summary>
    public JobOutcome Heartbeat(long jobId, string workerId)
    {
        long now = Now();
        Advance(now);
        if (RunningJob(jobId, workerId, out var job) is { } refused)
            return refused;
        Arm(job, now + _policy.JobVisibilityTimeout.Ticks);
        return JobOutcome.Ok;
    }

    /// <summary>Records progress (also a heartbeat); subscribers hear of it (a JobChanged event).</summary>
    public JobOutcome ReportProgress(long jobId, string workerId, double progress, string? message = null)
    {
        long now = Now();
        Advance(now);
        if (RunningJob(jobId, workerId, out var job) is { } refused)
            return refused;
        job.Job!.Progress = progress;
        job.Job.ProgressMessage = message;
        Arm(job, now + _policy.JobVisibilityTimeout.Ticks);
        JobChanged(job, now);
        return JobOutcome.Ok;
    }

    /// <summary>
    /// Appends <paramref name="text"/> to a running job's output (also a heartbeat); the job's followers hear of it (a
    /// <see cref="ResourceEventKind.JobOutput"/> event with the chunk and its offset). With <paramref name="at"/>, the worker
    /// says where it believes the output ends: the append is made only there, and one that repeats what already stands at
    /// <paramref name="at"/> (a retry after a lost answer) answers Ok and changes nothing; any other offset is
    /// <see cref="JobOutcome.OutputConflict"/>. Past the policy's <see cref="ResourcePolicy.JobMaxOutputBytes"/>:
    /// <see cref="JobOutcome.OutputFull"/>, nothing appended.
    /// </summary>
    public JobOutcome AppendOutput(long jobId, string workerId, string text, long? at = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        long now = Now();
        Advance(now);
        if (RunningJob(jobId, workerId, out var job) is { } refused)
            return refused;
        var output = job.Job!.Output ??= new JobOutput();
        if (at is { } offset && offset != output.Length)
            return output.Holds(offset, text) ? JobOutcome.Ok : JobOutcome.OutputConflict;
        JobOutputChunk? chunk = null;
        if (text.Length > 0 && (chunk = output.TryAppend(job.Id, text, _policy.JobMaxOutputBytes)) is null)
            return JobOutcome.OutputFull;
        Arm(job, now + _policy.JobVisibilityTimeout.Ticks);
        if (chunk is null)
            return JobOutcome.Ok;
        _changes.OutputAppended(chunk);
        Note(now, null, new(ResourceEventKind.JobOutput, job.Id, job.ClientId, job.Load, ToTime(now), Priority: job.Priority, Output: chunk), job);
        return JobOutcome.Ok;
    }

    /// <summary>The most output one <see cref="ReadOutput"/> answers (whole chunks; one chunk even when larger).</summary>
    public const int MaxOutputRead = 1 << 20;

    /// <summary>A job's output after <paramref name="after"/> bytes (0: from the start), or <c>null</c> when the job is
    /// unknown. <see cref="JobOutputRead.Next"/> is where to read after next.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="after"/> is negative, beyond the output, or inside a character.</exception>
    public JobOutputRead? ReadOutput(long jobId, long after, int maxBytes = MaxOutputRead)
    {
        if (!_requests.TryGetValue(jobId, out var job) || job.Job is not { } info)
            return null;
        if (info.Output is not { } output)
        {
            return after == 0 ? new JobOutputRead(0, "", 0, 0, info.State)
                : throw new ArgumentOutOfRangeException(nameof(after), after, $"after must be an offset of the output, from 0 to its length (0); it is {after}.");
        }
        if (output.Read(after, Math.Clamp(maxBytes, 1, MaxOutputRead)) is not var (text, next))
            throw new ArgumentOutOfRangeException(nameof(after), after, $"after must be an offset of the output, from 0 to its length ({output.Length}), at a character's start; it is {after}.");
        return new JobOutputRead(after, text, next, output.Length, info.State);
    }

    /// <summary>Completes a job with its result; the lease is released (its window spending corrected by
    /// <paramref name="actualLoad"/>). A completion reported again by the same worker is accepted once and answers Ok.</summary>
    public JobOutcome CompleteJob(long jobId, string workerId, string? result, long? actualLoad = null)
    {
        if (actualLoad is < 0 or > ResourcePolicy.MaxLoad)
            throw new ArgumentOutOfRangeException(nameof(actualLoad), actualLoad, $"actualLoad must be between 0 and {ResourcePolicy.MaxLoad}.");
        long now = Now();
        Advance(now);
        if (_requests.TryGetValue(jobId, out var done) && done.Job is { State: JobState.Completed } info && info.WorkerId == workerId)
            return JobOutcome.Ok;
        if (RunningJob(jobId, workerId, out var job) is { } refused)
            return refused;
        if (actualLoad is { } actual && HasRateLimits)
        {
            _rate.Correct(job.WindowSeq, actual - job.Load, now, _window);
            _changes.WindowChanged(job.WindowSeq);
        }
        ReleaseBudget(job);
        _jobs.Completed(job, result, now);
        Retain(job, now);
        TryGrant(now);
        return JobOutcome.Ok;
    }

    /// <summary>Reports a failed attempt: the job retries after its backoff, or is dead-lettered after its last attempt.</summary>
    public JobOutcome FailJob(long jobId, string workerId, string error)
    {
        long now = Now();
        Advance(now);
        if (RunningJob(jobId, workerId, out var job) is { } refused)
            return refused;
        ReleaseBudget(job);
        if (_jobs.Failed(job, error, now))
        {
            Arm(job, now + JobMode.RetryDelay(_policy, job.Job!.Attempts));
            JobChanged(job, now);
        }
        else
        {
            Retain(job, now);
        }
        TryGrant(now);
        return JobOutcome.Ok;
    }

    /// <summary>Cancels a queued job; a running job cannot be cancelled (answers <see cref="JobOutcome.NotYours"/>).</summary>
    public JobOutcome CancelJob(long jobId)
    {
        long now = Now();
        Advance(now);
        if (!_requests.TryGetValue(jobId, out var job) || job.Job is null)
            return JobOutcome.NotFound;
        if (job.State == RequestState.Finished)
            return JobOutcome.Finished;
        if (job.State != RequestState.Waiting && job.State != RequestState.Retrying)
            return JobOutcome.NotYours;
        if (job.State == RequestState.Waiting)
            Unqueue(job);
        Finish(job, JobState.Cancelled, now);
        TryGrant(now);
        return JobOutcome.Ok;
    }

    /// <summary>A job as it stands, or <c>null</c> when unknown (never enqueued, or finished longer ago than the retention).</summary>
    public JobStatus? GetJob(long jobId) =>
        _requests.TryGetValue(jobId, out var job) && job.Job is not null ? _jobs.StatusOf(job) : null;

    private JobOutcome? RunningJob(long jobId, string workerId, out Request job)
    {
        _requests.TryGetValue(jobId, out job!);
        if (JobMode.CheckRunning(job, workerId) is { } refused)
            return refused;
        _jobs.Heard(job);
        return null;
    }

    private void QueueJob(Request job, bool front)
    {
        job.State = RequestState.Waiting;
        // A job put back (worker silent, or retrying) keeps its old sequence: it is older than what queued since.
        if (!front)
            job.QueueSeq = ++_queueSeq;
        _jobs.Queued(job, front);
        ArmWaitTimer(job);
    }

    /// <summary>Hands the job at the head of the job waitlist to the longest-waiting worker, under a lease; a worker not
    /// <paramref name="present"/> is told by an event. Returns whether the job went to <paramref name="present"/>.</summary>
    private bool AssignJob(Request job, long now, Request? present)
    {
        var poll = _jobs.Start(job, now);
        Grant(job, now, claimed: true);
        bool toPresent = poll == present;
        if (!toPresent)
        {
            Note(now, null, new(ResourceEventKind.JobAssigned, poll.Id, poll.ClientId, job.Load, ToTime(now), job.FencingToken, JobId: job.Id), poll);
            _jobs.Pushed(job, poll);
        }
        Recycle(poll);
        JobChanged(job, now);
        return toPresent;
    }

    /// <summary>A running job whose worker fell silent: back to the head of its client's queue, or dead-lettered after its last attempt.</summary>
    private void RecoverStale(Request job, long now)
    {
        ReleaseBudget(job);
        if (!_jobs.Recovered(job, now))
        {
            Retain(job, now);
            return;
        }
        QueueJob(job, front: true);
        JobChanged(job, now);
    }

    /// <summary>Ends a job that is not running (cancelled, or dead-lettered while it waited).</summary>
    private void Finish(Request job, JobState state, long now)
    {
        _jobs.Finish(job, state, now);
        Retain(job, now);
    }

    /// <summary>After a job has ended: the log keeps a dead letter, and the job is kept for its retention.</summary>
    private void Retain(Request job, long now)
    {
        if (job.Job!.State == JobState.DeadLettered)
            Note(now, ActivityKind.DeadLettered, null, job, detail: job.Job.Error);
        Arm(job, now + _policy.JobRetention.Ticks);
        JobChanged(job, now);
    }

    private void JobChanged(Request job, long now) =>
        Note(now, null, new(ResourceEventKind.JobChanged, job.Id, job.ClientId, job.Load, ToTime(now), Priority: job.Priority), job);

    private void EndPoll(Request poll)
    {
        _jobs.WorkerLeaves(poll);
        Recycle(poll);
    }

    private Waitlist WaitlistOf(Request request) => request.Job is null ? _waitlist : _jobs.Queue;

    /// <summary>The most urgent level whose head could be granted: acquires always, jobs only while a worker waits.</summary>
    private int TopEligibleLevel() =>
        Math.Min(_waitlist.TopLevel(), _jobs.EligibleTopLevel);

    /// <summary>The next request to serve: the head of a level owed its minimum share, else the more urgent of the two heads,
    /// the older at equal priority.</summary>
    private Request? NextToServe()
    {
        var head = StrictHead();
        return head is not null && _hasMinShares ? OwedHeadBelow(head.Level) ?? head : head;
    }

    private Request? StrictHead()
    {
        var acquire = _waitlist.Head;
        var job = _jobs.EligibleHead;
        if (acquire is null || job is null)
            return acquire ?? job;
        if (acquire.Level != job.Level)
            return acquire.Level < job.Level ? acquire : job;
        return acquire.QueueSeq <= job.QueueSeq ? acquire : job;
    }
}
