using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

public sealed partial class ResourceScheduler
{
    private readonly LatencyHistogram _waits = new();
    private readonly ActivityLog _activity = new();
    private readonly long[] _rejected = new long[Enum.GetValues<RejectionReason>().Length];
    private long _granted, _released, _expired, _reclaimed, _timedOut, _cancelled, _promoted;

    /// <summary>A snapshot of the resource: waitlist depth by priority and client, leases, budget left, totals, wait times.
    /// O(clients waiting); meant for dashboards and metrics, not for every request.</summary>
    public ResourceStats GetStats()
    {
        long now = Now();
        long? requestsLeft = null, loadLeft = null;
        if (HasRateLimits)
        {
            _rate.Prune(now, _window);
            _adaptation.ClimbBack(now);
            if (_adaptation.WorkingRequestsPerWindow is { } rpw)
                requestsLeft = Math.Max(0, rpw - _rate.Requests);
            if (_adaptation.WorkingLoadPerWindow is { } lpw)
                loadLeft = Math.Max(0, lpw - _rate.Load);
        }
        var byPriority = new int[PriorityLevels.Count];
        for (int i = 0; i < byPriority.Length; i++)
            byPriority[i] = _waitlist.WaitingAt(i);
        var byClient = _waitlist.WaitingByClient();
        var rejected = new Dictionary<RejectionReason, long>();
        for (int i = 0; i < _rejected.Length; i++)
        {
            if (_rejected[i] > 0)
                rejected[(RejectionReason)i] = _rejected[i];
        }
        return new ResourceStats
        {
            Name = Name,
            Waiting = _waitlist.Count,
            WaitingByPriority = byPriority,
            WaitingByClient = byClient,
            Leases = _leases,
            LeasedLoad = _leasedLoad,
            RequestsLeftInWindow = requestsLeft,
            LoadLeftInWindow = loadLeft,
            LastFencingToken = _lastFencingToken,
            Granted = _granted,
            Released = _released,
            Expired = _expired,
            Reclaimed = _reclaimed,
            TimedOut = _timedOut,
            Cancelled = _cancelled,
            Promoted = _promoted,
            Rejected = rejected,
            WaitP50 = _waits.TimeAt(0.50),
            WaitP90 = _waits.TimeAt(0.90),
            WaitP99 = _waits.TimeAt(0.99),
            WaitMax = _waits.MaxTime,
            Jobs = _jobs.Stats(),
            GrantsPerSecond = _activity.GrantsPerSecond(now),
            Adaptive = GetAdaptiveState(),
        };
    }

    /// <summary>The length of one slice of <see cref="GetTimeline"/>.</summary>
    public static TimeSpan ActivityBucketLength => TimeSpan.FromTicks(ActivityLog.BucketTicks);

    /// <summary>The latest grants, timeouts, expiries, reclaims, refusals and dead letters (at most 200), newest first.
    /// Kept in memory since the resource was activated.</summary>
    public IReadOnlyList<ActivityEntry> GetRecentActivity() => _activity.Recent();

    /// <summary>Grants, refusals and expiries per <see cref="ActivityBucketLength"/> over the last six minutes, oldest first.</summary>
    public IReadOnlyList<ActivityBucket> GetTimeline() => _activity.Timeline(Now());

    /// <summary>Leases held or granted, oldest grant first, at most <paramref name="max"/>. O(requests).</summary>
    public IReadOnlyList<LeaseStatus> GetLeases(int max)
    {
        var leases = new List<LeaseStatus>();
        foreach (var r in _requests.Values)
        {
            if (r.IsLease)
            {
                leases.Add(new LeaseStatus(r.Id, r.ClientId, r.Load, r.Priority, r.FencingToken, ToTime(r.GrantedAt), ToTime(r.TimerAt),
                    r.State == RequestState.Active, r.Job is not null));
            }
        }
        return leases.OrderBy(l => l.GrantedAt).ThenBy(l => l.Id).Take(max).ToList();
    }

    /// <summary>Jobs the resource has (running first, then queued, retrying, dead-lettered, completed; the newest first
    /// within each), at most <paramref name="max"/>. O(requests).</summary>
    public IReadOnlyList<JobStatus> GetJobs(int max) => _requests.Values
        .Where(r => r.Job is not null)
        .OrderBy(r => r.Job!.State switch
        {
            JobState.Running => 0,
            JobState.Queued => 1,
            JobState.Retrying => 2,
            JobState.DeadLettered => 3,
            _ => 4,
        })
        .ThenByDescending(r => r.Id)
        .Take(max)
        .Select(_jobs.StatusOf)
        .ToList();

    /// <summary>An acquire refused outright: the log keeps it; its reply is the news.</summary>
    private void RecordRejection(string clientId, long load, Priority priority, Rejection rejection) =>
        Note(Now(), ActivityKind.Rejected, null, 0, clientId, load, priority, rejection);

    private AcquireResult Reject(Rejection rejection)
    {
        _rejected[(int)rejection.Reason]++;
        return AcquireResult.Rejected(rejection);
    }

    private Rejection? ValidateAcquire(string clientId, long load, Priority priority, TimeSpan? maxWait, string? idempotencyKey)
    {
        if (idempotencyKey is { Length: 0 or > MaxIdempotencyKeyLength })
        {
            return new(RejectionReason.InvalidRequest,
                $"idempotencyKey must be 1 to {MaxIdempotencyKeyLength} characters; it has {idempotencyKey.Length}.", Field: "idempotencyKey");
        }
        if (string.IsNullOrWhiteSpace(clientId) || clientId.Length > MaxClientIdLength)
        {
            return new(RejectionReason.InvalidRequest,
                $"clientId must be a non-blank string of at most {MaxClientIdLength} characters.", Field: "clientId");
        }
        if (!PriorityLevels.IsDefined(priority))
        {
            return new(RejectionReason.InvalidRequest,
                $"priority must be one of Critical (0), High (1), Normal (2), Low (3), Background (4); it is {(int)priority}.", Field: "priority");
        }
        if (load < 1 || load > ResourcePolicy.MaxLoad)
        {
            return new(RejectionReason.InvalidLoad,
                $"load must be between 1 and {ResourcePolicy.MaxLoad}; it is {load}.", Field: "load");
        }
        if (_policy.LoadPerWindow is { } lpw && load > lpw)
            return NeverFits(load, lpw);
        if (maxWait is { } wait && (wait < TimeSpan.Zero || wait.Ticks > _maxWait))
        {
            return new(RejectionReason.InvalidRequest,
                $"maxWait must be between zero and resource \"{Name}\"'s MaxWait of {DurationText.Of(_policy.MaxWait)}; it is {DurationText.Of(wait)}.", Field: "maxWait");
        }
        return null;
    }

    private Rejection NeverFits(long load, long loadPerWindow) => new(RejectionReason.InvalidLoad,
        $"load {load} can never be granted on resource \"{Name}\": its LoadPerWindow is {loadPerWindow}.", Field: "load");
}
