using System.Diagnostics;
using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

public sealed partial class ResourceScheduler
{
    private const int PoolLimit = 1024;

    private readonly Dictionary<long, Request> _requests = [];
    private readonly Waitlist _waitlist = new();
    private readonly TimerQueue _timers = new();
    private readonly RateWindow _rate = new();
    private readonly Stack<Request> _pool = new();

    private ResourcePolicy _policy = ResourcePolicy.Default;
    private long _window, _leaseTtl, _claimWindow, _aging, _defaultWait, _maxWait;
    private long _nextId, _lastFencingToken;
    private int _leases;
    private long _leasedLoad;
    private long _rateReadyAt = long.MaxValue;
    private bool _budgetFreed;

    /// <summary>Clients the scheduler keeps state for: those waiting, and idle ones it still owes fairness debt to.</summary>
    internal int TrackedClients => _waitlist.TrackedClients;

    /// <summary>Requests waiting now.</summary>
    public int WaitingCount => _waitlist.Count;

    /// <summary>Leases held or granted and unclaimed now.</summary>
    public int LeaseCount => _leases;

    private bool HasRateLimits => _policy.RequestsPerWindow is not null || _policy.LoadPerWindow is not null;

    private int LiveTimers => _waitlist.Count + _leases + _jobs.Timed;

    private void ApplyPolicy(ResourcePolicy policy)
    {
        _policy = policy;
        _adaptation.Apply(policy);
        _window = policy.Window.Ticks;
        _leaseTtl = policy.LeaseTtl.Ticks;
        _claimWindow = policy.ClaimWindow.Ticks;
        _aging = policy.AgingInterval?.Ticks ?? 0;
        _defaultWait = policy.DefaultMaxWait.Ticks;
        _maxWait = policy.MaxWait.Ticks;
        ApplySharesAndWeights(policy);
    }

    /// <summary>Whether <paramref name="load"/> fits the budget at <paramref name="now"/>: the limits in force (the configured
    /// ones, or the working ones an adaptive resource has lowered them to) and what the upstream said.</summary>
    private bool Fits(long now, long load)
    {
        _adaptation.ClimbBack(now);
        if (_adaptation.WorkingMaxConcurrent is { } maxConcurrent && _leases >= maxConcurrent)
            return false;
        if (!_adaptation.Allows(now, load))
            return false;
        if (!HasRateLimits)
            return true;
        _rate.Prune(now, _window);
        return (_adaptation.WorkingRequestsPerWindow is not { } rpw || _rate.Requests + 1 <= rpw)
            && (_adaptation.WorkingLoadPerWindow is not { } lpw || _rate.Load + load <= lpw);
    }

    /// <summary>When budget for <paramref name="load"/> comes back by time alone, or <see cref="long.MaxValue"/> when only a release
    /// brings it back.</summary>
    private long ReadyAt(long now, long load)
    {
        if (_adaptation.ReadyAt(now, load) is { } upstream)
            return upstream;
        long nextClimb = _adaptation.NextClimb;
        if (_adaptation.WorkingMaxConcurrent is { } mc && _leases >= mc)
            return nextClimb;
        // A load above the working limit waits for the limit to climb back, not for the window to empty.
        if (_adaptation.WorkingLoadPerWindow is { } lpw && load > lpw)
            return nextClimb;
        return Math.Min(nextClimb, _rate.ReadyAt(now, _window, _adaptation.WorkingRequestsPerWindow, _adaptation.WorkingLoadPerWindow, load));
    }

    /// <summary>Applies due timers in deadline order, then grants what fits.</summary>
    private void Advance(long now)
    {
        while (_timers.PopDue(now) is { } request)
        {
            switch (request.State)
            {
                case RequestState.Waiting:
                    if (request.TimerAt < request.WaitDeadline)
                    {
                        Promote(request);
                        continue;
                    }
                    // Budget freed before this deadline (by an earlier timer, or by rate budget coming back)
                    // goes to the waitlist before anyone times out, however late the host ticks.
                    if (_budgetFreed || _rateReadyAt <= now)
                    {
                        TryGrant(now);
                        if (request.State != RequestState.Waiting)
                            continue;
                    }
                    TimeOut(request, now);
                    break;
                case RequestState.Polling:
                    Note(now, null, new(ResourceEventKind.PollExpired, request.Id, request.ClientId, 0, ToTime(now)), request);
                    EndPoll(request);
                    break;
                case RequestState.Retrying:
                    QueueJob(request, front: true);
                    JobChanged(request, now);
                    break;
                case RequestState.Finished:
                    _jobs.Forgotten(request);
                    Recycle(request);
                    break;
                default:
                    Debug.Assert(request.IsLease);
                    if (request.Job is not null)
                    {
                        RecoverStale(request, now);
                        break;
                    }
                    bool claimed = request.State == RequestState.Active;
                    if (claimed) _expired++; else _reclaimed++;
                    Note(now, claimed ? ActivityKind.Expired : ActivityKind.Reclaimed, new(claimed ? ResourceEventKind.LeaseExpired : ResourceEventKind.GrantReclaimed,
                        request.Id, request.ClientId, request.Load, ToTime(now), request.FencingToken, Priority: request.Priority), request);
                    EndLease(request);
                    break;
            }
        }
        TryGrant(now);
    }

    /// <summary>Grants waiting requests in order while the head fits; head-of-line blocking keeps big requests from starving.</summary>
    /// <param name="present">The caller whose call this is, if it is waiting here: an acquire (a grant to it is claimed at once,
    /// its reply being the news) or a worker's poll (a job assigned to it is returned, not announced).</param>
    /// <returns>The job assigned to <paramref name="present"/>'s poll, if one was.</returns>
    private Request? TryGrant(long now, Request? present = null)
    {
        Request? taken = null;
        _budgetFreed = false;
        while (NextToServe() is { } head)
        {
            if (!Fits(now, head.Load))
            {
                _rateReadyAt = ReadyAt(now, head.Load);
                return taken;
            }
            var served = WaitlistOf(head);
            served.Serve(head);
            served.Drain.Record(now);
            _budgetFreed = true;
            if (head.Job is not null)
            {
                if (AssignJob(head, now, present))
                    taken = head;
            }
            else
            {
                Grant(head, now, claimed: head == present);
            }
        }
        _rateReadyAt = long.MaxValue;
        return taken;
    }

    private void Grant(Request request, long now, bool claimed)
    {
        request.State = claimed ? RequestState.Active : RequestState.Pending;
        request.FencingToken = ++_lastFencingToken;
        request.GrantedAt = now;
        request.WindowSeq = HasRateLimits ? _rate.Record(now, request.Load, 1) : -1;
        _leases++;
        _leasedLoad += request.Load;
        _granted++;
        _adaptation.Spend(request.Load);
        CreditShares(request.Level, request.Load);
        _waits.Record((now - request.EnqueuedAt) / TimeSpan.TicksPerMicrosecond);
        Arm(request, now + (request.Job is not null ? _policy.JobVisibilityTimeout.Ticks : claimed ? _leaseTtl : _claimWindow));
        Note(now, ActivityKind.Granted, claimed ? null : new(ResourceEventKind.Granted, request.Id, request.ClientId, request.Load, ToTime(now),
            request.FencingToken, ToTime(request.TimerAt), Waited: TimeSpan.FromTicks(now - request.EnqueuedAt), Priority: request.Priority), request);
    }

    private void EndLease(Request lease)
    {
        ReleaseBudget(lease);
        Recycle(lease);
    }

    /// <summary>Returns a lease's concurrency (its rate budget stays spent).</summary>
    private void ReleaseBudget(Request lease)
    {
        _leases--;
        _leasedLoad -= lease.Load;
        _budgetFreed = true;
        Debug.Assert(_leases >= 0 && _leasedLoad >= 0);
    }

    private void Enqueue(Request request)
    {
        request.State = RequestState.Waiting;
        request.QueueSeq = ++_queueSeq;
        _waitlist.Enqueue(request);
        ArmWaitTimer(request);
    }

    /// <summary>Removes a waiting request that leaves unserved.</summary>
    private void Unqueue(Request request)
    {
        var waitlist = WaitlistOf(request);
        waitlist.Remove(request);
        waitlist.Drain.Record(Now());
        _budgetFreed = true; // the head may have changed
    }

    private void Promote(Request request)
    {
        request.QueueSeq = ++_queueSeq;
        WaitlistOf(request).Promote(request);
        _promoted++;
        _budgetFreed = true;
        ArmWaitTimer(request);
    }

    /// <summary>Arms the waiting request's timer at its deadline or its next promotion, whichever is first.</summary>
    private void ArmWaitTimer(Request request)
    {
        long at = request.WaitDeadline;
        if (_aging > 0 && request.Level > 0)
        {
            int promotions = (int)request.Priority - request.Level + 1;
            at = Math.Min(at, request.EnqueuedAt + promotions * _aging);
        }
        Arm(request, at);
    }

    private void TimeOut(Request request, long now)
    {
        Unqueue(request);
        if (request.Job is not null)
        {
            request.Job.Error = "No worker took the job before its deadline.";
            Finish(request, JobState.DeadLettered, now);
            return;
        }
        _timedOut++;
        var timedOut = new Rejection(RejectionReason.TimedOut,
            $"Request {request.Id} for load {request.Load} on resource \"{Name}\" was not granted within its maximum wait of {DurationText.Of(TimeSpan.FromTicks(request.WaitDeadline - request.EnqueuedAt))}.");
        Note(now, ActivityKind.TimedOut, new(ResourceEventKind.TimedOut, request.Id, request.ClientId, request.Load, ToTime(now), Rejection: timedOut,
            Priority: request.Priority), request, timedOut);
        Recycle(request);
    }

    /// <summary>After a policy change: re-arm aging timers and reject waiting requests that can never fit.</summary>
    private void RecheckWaiting(long now)
    {
        var waiting = new List<Request>(_waitlist.Count);
        foreach (var request in _requests.Values)
        {
            if (request.State == RequestState.Waiting)
                waiting.Add(request);
        }
        foreach (var request in waiting)
        {
            if (_policy.LoadPerWindow is { } lpw && request.Load > lpw && request.Job is not null)
            {
                Unqueue(request);
                request.Job.Error = NeverFits(request.Load, lpw).Message;
                Finish(request, JobState.DeadLettered, now);
            }
            else if (_policy.LoadPerWindow is { } limit && request.Load > limit)
            {
                Unqueue(request);
                _rejected[(int)RejectionReason.InvalidLoad]++;
                var never = NeverFits(request.Load, limit);
                Note(now, ActivityKind.Rejected, new(ResourceEventKind.Rejected, request.Id, request.ClientId, request.Load, ToTime(now), Rejection: never,
                    Priority: request.Priority), request, never);
                Recycle(request);
            }
            else
            {
                ArmWaitTimer(request);
            }
        }
    }

    private int TopLevel() => _waitlist.TopLevel();

    private int Position(Request request) => _waitlist.Position(request);

    private TimeSpan? RetryAfterFor(long now, long load)
    {
        long ready = ReadyAt(now, load);
        return ready > now && ready != long.MaxValue ? TimeSpan.FromTicks(ready - now) : null;
    }

    /// <summary>A refusal when <paramref name="waitlist"/> has no place for <paramref name="clientId"/>: it is full, or the
    /// client or its tenant has its quota waiting in it; null when there is a place.</summary>
    private AcquireResult? NoPlaceIn(Waitlist waitlist, string clientId, long now, string what)
    {
        if (waitlist.Count >= _policy.MaxQueueLength)
            return RejectFull(waitlist, RejectionReason.QueueFull, clientId, now, what);
        if (waitlist.WaitingOf(clientId) >= _policy.MaxQueuedPerClient)
            return RejectFull(waitlist, RejectionReason.ClientQuotaExceeded, clientId, now, what);
        if (waitlist.WaitingOfTenant(clientId) >= _policy.MaxQueuedPerTenant)
            return RejectFull(waitlist, RejectionReason.TenantQuotaExceeded, clientId, now, what);
        return null;
    }

    /// <summary>
    /// Refuses a request because <paramref name="waitlist"/> is full, or the client or its tenant has its quota waiting in
    /// it, with an
    /// honest Retry-After: a place frees when one request leaves; a client's (or tenant's) own place, with fair sharing,
    /// once about one request per waiting client has left. Without departures lately, no estimate is given and the message says so.
    /// </summary>
    private AcquireResult RejectFull(Waitlist waitlist, RejectionReason reason, string clientId, long now, string what)
    {
        bool quota = reason != RejectionReason.QueueFull;
        var retry = waitlist.Drain.TimeFor(now, quota ? Math.Max(1, waitlist.WaitingClients) : 1);
        string limit = reason switch
        {
            RejectionReason.ClientQuotaExceeded =>
                $"The client has {waitlist.WaitingOf(clientId)} {what} waiting on resource \"{Name}\", its MaxQueuedPerClient of {_policy.MaxQueuedPerClient}.",
            RejectionReason.TenantQuotaExceeded =>
                $"The tenant's clients have {waitlist.WaitingOfTenant(clientId)} {what} waiting on resource \"{Name}\", its MaxQueuedPerTenant of {_policy.MaxQueuedPerTenant}.",
            _ => $"Resource \"{Name}\" has {waitlist.Count} {what} waiting, its MaxQueueLength of {_policy.MaxQueueLength}.",
        };
        string when = retry is { } after
            ? $" At the recent rate a place frees in about {Math.Max(1, Math.Ceiling(after.TotalSeconds))} s."
            : " None has left the waitlist lately, so no retry time can be estimated.";
        return Reject(new(reason, limit + when,
            retry is { } r && r < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retry));
    }

    private Request Rent(string clientId, long load, Priority priority, long now)
    {
        var request = _pool.Count > 0 ? _pool.Pop() : new Request();
        request.Id = ++_nextId;
        request.ClientId = clientId;
        request.Load = load;
        request.Priority = priority;
        request.Level = (int)priority;
        request.EnqueuedAt = now;
        _requests.Add(request.Id, request);
        return request;
    }

    private void Recycle(Request request)
    {
        _changes.RequestChanged(request.Id);
        _requests.Remove(request.Id);
        TimerQueue.Cancel(request);
        request.State = RequestState.Free;
        request.Job = null;
        request.ClientId = "";
        request.Queue = null;
        request.Prev = request.Next = null;
        if (_pool.Count < PoolLimit)
            _pool.Push(request);
    }
}
