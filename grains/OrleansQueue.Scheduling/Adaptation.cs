using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// What the upstream says, and the limits in force because of it (<see cref="ResourcePolicy.Adaptive"/>). A report of a
/// 429 or a retry-after pauses every new grant until the upstream's time (leases held run on; waiting requests keep their
/// places). With <see cref="AdaptiveMode.Headers"/>, until the upstream's reset the grants stay within what it says
/// remains, less what was in flight when it said so. With <see cref="AdaptiveMode.Aimd"/>, the working limits (every
/// configured limit times one factor) drop at each 429 and climb back per window without one, never above the configured
/// limits. Kept in memory: a new activation starts from the configured limits. Times are ticks of the scheduler's clock.
/// </summary>
internal sealed class Adaptation
{
    private const double MinFactor = 0.01;

    private ResourcePolicy _policy = ResourcePolicy.Default;
    private long _window;
    private long _pausedUntil;
    private string? _pauseReason;
    private double _factor = 1;
    private long _factorSince;
    private UpstreamDimension _upstreamRequests, _upstreamLoad;
    private long _throttles;

    /// <summary>Takes the policy's mode and rates; a change of mode starts again from the configured limits.</summary>
    public void Apply(ResourcePolicy policy)
    {
        if (policy.Adaptive != _policy.Adaptive)
            Reset();
        _policy = policy;
        _window = policy.Window.Ticks;
    }

    public bool IsOff => _policy.Adaptive == AdaptiveMode.Off;

    /// <summary>
    /// Learns from what the upstream answered, <paramref name="othersInFlight"/> other calls (of <paramref name="othersLoad"/>)
    /// being in flight besides the reporter's. Returns what the activity log says of a throttle, or null when it was none.
    /// </summary>
    public string? Learn(UpstreamReport report, long now, int othersInFlight, long othersLoad)
    {
        string? throttled = null;
        if (report.IsThrottle)
        {
            _throttles++;
            // 429s that come back from calls made before the pause they caused are the same congestion, not new ones.
            bool fresh = now >= _pausedUntil;
            long wait = Sane(report.RetryAfter) ?? EarliestReset(report) ?? ResourceScheduler.DefaultPause.Ticks;
            wait = Math.Min(wait, ResourceScheduler.MaxPause.Ticks);
            if (now + wait > _pausedUntil)
            {
                _pausedUntil = now + wait;
                _pauseReason = report.Status == 429 ? "the upstream answered 429" : $"the upstream asked to retry after {DurationText.Of(TimeSpan.FromTicks(wait))}";
            }
            if (_policy.Adaptive == AdaptiveMode.Aimd && report.Status == 429 && fresh)
            {
                ClimbBack(now);
                _factor = Math.Max(MinFactor, _factor * _policy.AimdDecrease);
                _factorSince = now;
            }
            throttled = $"No grant until {new DateTimeOffset(_pausedUntil, TimeSpan.Zero):HH:mm:ss.fff} ({_pauseReason})" +
                (_policy.Adaptive == AdaptiveMode.Aimd ? $"; working limits at {_factor:P0} of the configured." : ".");
        }
        if (_policy.Adaptive == AdaptiveMode.Headers)
        {
            _upstreamRequests.Learn(report.Requests, othersInFlight, now);
            _upstreamLoad.Learn(report.Load, othersLoad, now);
        }
        return throttled;
    }

    /// <summary>Where adaptation stands at <paramref name="now"/>.</summary>
    public AdaptiveState StateAt(long now)
    {
        ClimbBack(now);
        ForgetPassed(now);
        bool paused = now < _pausedUntil;
        long resetAt = Math.Max(_upstreamRequests.Left is null ? 0 : _upstreamRequests.Until, _upstreamLoad.Left is null ? 0 : _upstreamLoad.Until);
        return new AdaptiveState(_policy.Adaptive, paused ? new DateTimeOffset(_pausedUntil, TimeSpan.Zero) : null, paused ? _pauseReason : null, _factor,
            WorkingMaxConcurrent, WorkingRequestsPerWindow, WorkingLoadPerWindow, _upstreamRequests.Left, _upstreamLoad.Left,
            resetAt > 0 ? new DateTimeOffset(resetAt, TimeSpan.Zero) : null, _throttles);
    }

    /// <summary>The share of the configured limits in force as of the last operation (1 unless aimd lowered them).</summary>
    public double Factor => _factor;

    /// <summary>The configured limits as they are in force now.</summary>
    public int? WorkingMaxConcurrent => _policy.MaxConcurrent is { } mc ? (int)Working(mc) : null;

    public long? WorkingRequestsPerWindow => _policy.RequestsPerWindow is { } rpw ? Working(rpw) : null;

    public long? WorkingLoadPerWindow => _policy.LoadPerWindow is { } lpw ? Working(lpw) : null;

    private long Working(long limit) => _factor >= 1 ? limit : Math.Max(1, (long)(limit * _factor));

    /// <summary>Whether what the upstream said lets <paramref name="load"/> be granted now (the configured limits aside).</summary>
    public bool Allows(long now, long load)
    {
        if (now < _pausedUntil)
            return false;
        ForgetPassed(now);
        return (_upstreamRequests.Left is not { } requests || requests >= 1) && (_upstreamLoad.Left is not { } left || left >= load);
    }

    /// <summary>When what the upstream said stops holding <paramref name="load"/> back, or null when it does not.</summary>
    public long? ReadyAt(long now, long load)
    {
        if (now < _pausedUntil)
            return _pausedUntil;
        ForgetPassed(now);
        long? at = null;
        if (_upstreamRequests.Left is < 1)
            at = _upstreamRequests.Until;
        if (_upstreamLoad.Left is { } left && left < load)
            at = Math.Max(at ?? 0, _upstreamLoad.Until);
        return at;
    }

    /// <summary>When the working limits next climb back, or <see cref="long.MaxValue"/> at the configured limits.</summary>
    public long NextClimb => _factor >= 1 ? long.MaxValue : _factorSince + _window;

    /// <summary>Counts a grant against what the upstream said remains.</summary>
    public void Spend(long load)
    {
        _upstreamRequests.Spend(1);
        _upstreamLoad.Spend(load);
    }

    /// <summary>Adds back <see cref="ResourcePolicy.AimdIncrease"/> per whole window since the last change.</summary>
    public void ClimbBack(long now)
    {
        if (_factor >= 1 || now < _factorSince + _window)
            return;
        long windows = (now - _factorSince) / _window;
        _factor = Math.Min(1, _factor + windows * _policy.AimdIncrease);
        _factorSince += windows * _window;
    }

    private void ForgetPassed(long now)
    {
        _upstreamRequests.Pass(now);
        _upstreamLoad.Pass(now);
    }

    /// <summary>Back to the configured limits.</summary>
    private void Reset()
    {
        _pausedUntil = 0;
        _pauseReason = null;
        _factor = 1;
        _upstreamRequests = _upstreamLoad = default;
    }

    /// <summary>
    /// What the upstream said of one dimension: what it allows until <see cref="Until"/>, its reset (the time until its budget
    /// is back in full). Until then what remains can only be less than the lowest figure heard, since reports race each
    /// other back from calls the upstream counted in another order; a later reset extends the time. When the reset passes
    /// and the upstream also said its limit, its budget is back in full: the limit holds for one more span as long as the
    /// last, so that a fleet waiting for the reset does not all go at once; after that, the configured limits alone.
    /// </summary>
    private struct UpstreamDimension
    {
        public long? Left;
        public long Until;
        private long? _limit;
        private long _span;

        public void Learn(UpstreamBudget? budget, long inFlight, long now)
        {
            // Only a figure that makes sense is kept: Azure OpenAI sends -1 and 0 where it has none.
            if (budget is not { Remaining: >= 0 and var remaining } b || Sane(b.ResetIn) is not { } reset || b.Limit is <= 0 || remaining > b.Limit)
                return;
            long left = Math.Max(0, remaining - inFlight);
            bool current = Left is not null && now < Until;
            Left = current ? Math.Min(Left!.Value, left) : left;
            Until = current ? Math.Max(Until, now + reset) : now + reset;
            _limit = b.Limit ?? _limit;
            _span = reset;
        }

        public void Spend(long amount)
        {
            if (Left is { } left)
                Left = left - amount;
        }

        public void Pass(long now)
        {
            if (Left is null || now < Until)
                return;
            if (_limit is { } limit && now < Until + _span)
            {
                Left = limit;
                Until += _span;
                _limit = null; // once
                return;
            }
            Left = null;
        }
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
