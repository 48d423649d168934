namespace OrleansQueue.Grains.Scheduling;

/// <summary>
/// A resource's recent activity, in memory only: the last <see cref="Capacity"/> entries, and counts per slice of time over
/// the last few minutes. O(1) per entry; what a dashboard reads, never what the scheduler decides by.
/// </summary>
internal sealed class ActivityLog
{
    public const int Capacity = 200;
    public const int BucketCount = 72;
    public static readonly long BucketTicks = TimeSpan.FromSeconds(5).Ticks;

    private readonly ActivityEntry?[] _recent = new ActivityEntry?[Capacity];
    private int _next;
    private readonly long[] _starts = new long[BucketCount];
    private readonly long[] _granted = new long[BucketCount];
    private readonly long[] _rejected = new long[BucketCount];
    private readonly long[] _expired = new long[BucketCount];

    public void Record(long now, ActivityKind kind, long requestId, string clientId, long load, Priority priority,
        RejectionReason? reason = null, string? detail = null)
    {
        _recent[_next] = new ActivityEntry(new DateTimeOffset(now, TimeSpan.Zero), kind, requestId, clientId, load, priority, reason, detail);
        _next = (_next + 1) % Capacity;
        int slot = Slot(now);
        switch (kind)
        {
            case ActivityKind.Granted: _granted[slot]++; break;
            case ActivityKind.Expired or ActivityKind.Reclaimed: _expired[slot]++; break;
            case ActivityKind.Rejected or ActivityKind.TimedOut or ActivityKind.DeadLettered or ActivityKind.Throttled: _rejected[slot]++; break;
        }
    }

    /// <summary>The entries kept, newest first.</summary>
    public List<ActivityEntry> Recent()
    {
        var list = new List<ActivityEntry>(Capacity);
        for (int i = 1; i <= Capacity; i++)
        {
            if (_recent[(_next - i + Capacity) % Capacity] is { } entry)
                list.Add(entry);
        }
        return list;
    }

    /// <summary>Every slice of the last <see cref="BucketCount"/> up to the one holding <paramref name="now"/>, oldest first.</summary>
    public ActivityBucket[] Timeline(long now)
    {
        long current = now - now % BucketTicks;
        var buckets = new ActivityBucket[BucketCount];
        for (int i = 0; i < BucketCount; i++)
        {
            long start = current - (BucketCount - 1 - i) * BucketTicks;
            int slot = (int)(start / BucketTicks % BucketCount);
            buckets[i] = _starts[slot] == start
                ? new ActivityBucket(new DateTimeOffset(start, TimeSpan.Zero), _granted[slot], _rejected[slot], _expired[slot])
                : new ActivityBucket(new DateTimeOffset(start, TimeSpan.Zero), 0, 0, 0);
        }
        return buckets;
    }

    /// <summary>Grants per second over the slice now filling and the one before it.</summary>
    public double GrantsPerSecond(long now)
    {
        long current = now - now % BucketTicks;
        long granted = 0;
        foreach (long start in new[] { current, current - BucketTicks })
        {
            int slot = (int)(start / BucketTicks % BucketCount);
            if (_starts[slot] == start)
                granted += _granted[slot];
        }
        double seconds = TimeSpan.FromTicks(now - (current - BucketTicks)).TotalSeconds;
        return seconds <= 0 ? 0 : granted / seconds;
    }

    private int Slot(long now)
    {
        long start = now - now % BucketTicks;
        int slot = (int)(start / BucketTicks % BucketCount);
        if (_starts[slot] != start)
        {
            _starts[slot] = start;
            _granted[slot] = _rejected[slot] = _expired[slot] = 0;
        }
        return slot;
    }
}
