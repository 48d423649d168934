namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// How fast requests leave a waitlist (served, timed out or cancelled), as an exponentially weighted rate over about the
/// last ten seconds. Lets a refusal for a full waitlist say honestly when a place is likely to free.
/// </summary>
internal sealed class DrainRate
{
    private static readonly double Tau = TimeSpan.FromSeconds(10).Ticks;
    private double _perTick;
    private long _last;

    public void Record(long now)
    {
        _perTick = PerTickAt(now) + 1 / Tau;
        _last = Math.Max(_last, now);
    }

    /// <summary>How long until <paramref name="departures"/> more requests have left at the recent rate; null when none
    /// has left lately (less than one a minute), so no estimate would be honest.</summary>
    public TimeSpan? TimeFor(long now, int departures)
    {
        double rate = PerTickAt(now);
        if (rate * TimeSpan.TicksPerMinute < 1)
            return null;
        return TimeSpan.FromTicks((long)Math.Ceiling(departures / rate));
    }

    private double PerTickAt(long now) => _last == 0 ? 0 : _perTick * Math.Exp(-Math.Max(0, now - _last) / Tau);
}
