namespace OrleansQueue.Grains;

/// <summary>
/// What the upstream says, and the limits in force because of it (<see cref="ResourcePolicy.Adaptive"/>). A report of a
/// 429 or a retry-after pauses every new grant until the upstream's time (leases held run on; waiting requests keep their
/// places). With <see cref="AdaptiveMode.Headers"/>, until the upstream's reset the grants stay within what it says
/// remains, less what was in flight when it said so. With <see cref="AdaptiveMode.Aimd"/>, the working limits (every
/// configured limit times one factor) drop at each 429 and climb back per window without one, never above the configured
/// limits. Kept in memory: a new activation starts from the configured limits.
/// </summary>
public sealed partial class ResourceScheduler
{
    /// <summary>The longest pause a report can cause, whatever the upstream says.</summary>
    public static readonly TimeSpan MaxPause = TimeSpan.FromMinutes(10);

    /// <summary>The pause after a 429 that says neither retry-after nor a reset.</summary>
    public static readonly TimeSpan DefaultPause = TimeSpan.FromSeconds(1);

    private const double MinFactor = 0.01;

    private long _pausedUntil;
    private string? _pauseReason;
    private double _factor = 1;
    private long _factorSince;
    private long? _upstreamRequestsLeft, _upstreamLoadLeft;
    private long _upstreamRequestsUntil, _upstreamLoadUntil;
    private long _throttles;

    /// <summary>
    /// What the upstream answered a caller (while it holds lease <paramref name="leaseId"/>, or as it releases it; or with
    /// no lease named). Ignored when the policy's <see cref="ResourcePolicy.Adaptive"/> is off; otherwise a 429 or a
    /// retry-after pauses grants, and the figures adjust the limits in force as the mode says.
    /// </summary>
    public void ReportUpstream(UpstreamReport report, long? leaseId = null)
    {
        long now = Now();
        Advance(now);
        if (_policy.Adaptive == AdaptiveMode.Off)
            return;
        // What was in flight besides the reporter's own call has probably not reached the upstream's count yet.
        int others = _leases;
        long othersLoad = _leasedLoad;
        if (leaseId is { } id && _requests.TryGetValue(id, out var lease) && lease.IsLease)
        {
            others--;
            othersLoad -= lease.Load;
        }
        if (report.IsThrottle)
        {
            _throttles++;
            long wait = Sane(report.RetryAfter) ?? EarliestReset(report) ?? DefaultPause.Ticks;
            wait = Math.Min(wait, MaxPause.Ticks);
            if (now + wait > _pausedUntil)
            {
                _pausedUntil = now + wait;
                _pauseReason = report.Status == 429 ? "the upstream answered 429" : $"the upstream asked to retry after {TimeSpan.FromTicks(wait)}";
            }
            if (_policy.Adaptive == AdaptiveMode.Aimd && report.Status == 429)
            {
                ClimbBack(now);
                _factor = Math.Max(MinFactor, _factor * _policy.AimdDecrease);
                _factorSince = now;
            }
            _activity.Record(now, ActivityKind.Throttled, leaseId ?? 0, "upstream", 0, Priority.Normal, detail:
                $"No grant until {ToTime(_pausedUntil):HH:mm:ss.fff} ({_pauseReason})" +
                (_policy.Adaptive == AdaptiveMode.Aimd ? $"; working limits at {_factor:P0} of the configured." : "."));
        }
        if (_policy.Adaptive == AdaptiveMode.Headers)
        {
            Learn(report.Requests, others, now, ref _upstreamRequestsLeft, ref _upstreamRequestsUntil);
            Learn(report.Load, othersLoad, now, ref _upstreamLoadLeft, ref _upstreamLoadUntil);
        }
        TryGrant(now);
    }

    /// <summary>Where adaptation stands now.</summary>
    public AdaptiveState GetAdaptiveState()
    {
        long now = Now();
        ClimbBack(now);
        ForgetPassed(now);
        bool paused = now < _pausedUntil;
        long resetAt = Math.Max(_upstreamRequestsLeft is null ? 0 : _upstreamRequestsUntil, _upstreamLoadLeft is null ? 0 : _upstreamLoadUntil);
        return new AdaptiveState(_policy.Adaptive, paused ? ToTime(_pausedUntil) : null, paused ? _pauseReason : null, _factor,
            WorkingMaxConcurrent, WorkingRequestsPerWindow, WorkingLoadPerWindow, _upstreamRequestsLeft, _upstreamLoadLeft,
            resetAt > 0 ? ToTime(resetAt) : null, _throttles);
    }

    private int? WorkingMaxConcurrent => _policy.MaxConcurrent is { } mc ? (int)Working(mc) : null;

    private long? WorkingRequestsPerWindow => _policy.RequestsPerWindow is { } rpw ? Working(rpw) : null;

    private long? WorkingLoadPerWindow => _policy.LoadPerWindow is { } lpw ? Working(lpw) : null;

    private long Working(long limit) => _factor >= 1 ? limit : Math.Max(1, (long)(limit * _factor));

    /// <summary>Whether what the upstream said lets <paramref name="load"/> be granted now (the configured limits aside).</summary>
    private bool UpstreamAllows(long now, long load)
    {
        if (now < _pausedUntil)
            return false;
        ForgetPassed(now);
        return (_upstreamRequestsLeft is not { } requests || requests >= 1) && (_upstreamLoadLeft is not { } left || left >= load);
    }

    /// <summary>When what the upstream said stops holding <paramref name="load"/> back, or null when it does not.</summary>
    private long? UpstreamReadyAt(long now, long load)
    {
        if (now < _pausedUntil)
            return _pausedUntil;
        ForgetPassed(now);
        long? at = null;
        if (_upstreamRequestsLeft is < 1)
            at = _upstreamRequestsUntil;
        if (_upstreamLoadLeft is { } left && left < load)
            at = Math.Max(at ?? 0, _upstreamLoadUntil);
        return at;
    }

    /// <summary>When the working limits next climb back, or <see cref="long.MaxValue"/> at the configured limits.</summary>
    private long NextClimb => _factor >= 1 ? long.MaxValue : _factorSince + _window;

    /// <summary>Counts a grant against what the upstream said remains.</summary>
    private void SpendUpstream(long load)
    {
        if (_upstreamRequestsLeft is { } requests)
            _upstreamRequestsLeft = requests - 1;
        if (_upstreamLoadLeft is { } left)
            _upstreamLoadLeft = left - load;
    }

    /// <summary>Adds back <see cref="ResourcePolicy.AimdIncrease"/> per whole window since the last change.</summary>
    private void ClimbBack(long now)
    {
        if (_factor >= 1 || now < _factorSince + _window)
            return;
        long windows = (now - _factorSince) / _window;
        _factor = Math.Min(1, _factor + windows * _policy.AimdIncrease);
        _factorSince += windows * _window;
    }

    private void ForgetPassed(long now)
    {
        if (_upstreamRequestsLeft is not null && now >= _upstreamRequestsUntil)
            _upstreamRequestsLeft = null;
        if (_upstreamLoadLeft is not null && now >= _upstreamLoadUntil)
            _upstreamLoadLeft = null;
    }

    /// <summary>Puts the adaptation back to the configured limits (the mode changed).</summary>
    private void ResetAdaptation()
    {
        _pausedUntil = 0;
        _pauseReason = null;
        _factor = 1;
        _upstreamRequestsLeft = _upstreamLoadLeft = null;
    }

    private static void Learn(UpstreamBudget? budget, long inFlight, long now, ref long? left, ref long until)
    {
        // Only a figure that makes sense is kept: Azure OpenAI sends -1 and 0 where it has none.
        if (budget is not { Remaining: >= 0 and var remaining } b || Sane(b.ResetIn) is not { } reset || b.Limit is <= 0 || remaining > b.Limit)
            return;
        left = Math.Max(0, remaining - inFlight);
        until = now + reset;
    }

    private static long? EarliestReset(UpstreamReport report)
    {
        long? requests = report.Requests is { } r ? Sane(r.ResetIn) : null;
        long? load = report.Load is { } l ? Sane(l.ResetIn) : null;
        return requests is null ? load : load is null ? requests : Math.Min(requests.Value, load.Value);
    }

    private static long? Sane(TimeSpan? duration) =>
        duration is { } d && d > TimeSpan.Zero && d <= ResourcePolicy.MaxDuration ? d.Ticks : null;
}
