namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// A resource's recent activity, in memory only: the last <see cref="Capacity"/> entries, and counts per slice of time over
/// the last few minutes. O(1) per entry (amortised); what a dashboard reads, never what the scheduler decides by. Small
/// for a quiet resource: the ring grows as entries come, and only slices that saw something are kept (a silo holds
/// thousands of resources).
/// </summary>
internal sealed class ActivityLog
{
    public const int Capacity = 200;
    public const int BucketCount = 72;
    public static readonly long BucketTicks = TimeSpan.FromSeconds(5).Ticks;

    private ActivityEntry[] _ring = [];
    private int _count, _next;
    private readonly List<Slice> _slices = [];

    private struct Slice
    {
        public long Start;
        public long Granted, Rejected, Expired;
    }

    public void Record(long now, ActivityKind kind, long requestId, string clientId, long load, Priority priority,
        RejectionReason? reason = null, string? detail = null)
    {
        var entry = new ActivityEntry(new DateTimeOffset(now, TimeSpan.Zero), kind, requestId, clientId, load, priority, reason, detail);
        if (_count < Capacity)
        {
            // Still filling: grow as entries come, up to the capacity.
            if (_count == _ring.Length)
                Array.Resize(ref _ring, Math.Min(Capacity, Math.Max(4, _ring.Length * 2)));
            _ring[_count++] = entry;
            _next = _count % Capacity;
        }
        else
        {
            _ring[_next] = entry;
            _next = (_next + 1) % Capacity;
        }
        ref var slice = ref SliceAt(now);
        switch (kind)
        {
            case ActivityKind.Granted: slice.Granted++; break;
            case ActivityKind.Expired or ActivityKind.Reclaimed: slice.Expired++; break;
            default: slice.Rejected++; break; // refused, timed out, dead-lettered, throttled
        }
    }

    /// <summary>The entries kept, newest first.</summary>
    public List<ActivityEntry> Recent()
    {
        var list = new List<ActivityEntry>(_count);
        for (int i = 1; i <= _count; i++)
            list.Add(_ring[(_next - i + Capacity) % Capacity]);
        return list;
    }

    /// <summary>Every slice of the last <see cref="BucketCount"/> up to the one holding <paramref name="now"/>, oldest first.</summary>
    public ActivityBucket[] Timeline(long now)
    {
        long current = now - now % BucketTicks;
        var buckets = new ActivityBucket[BucketCount];
        for (int i = 0; i < BucketCount; i++)
            buckets[i] = new ActivityBucket(new DateTimeOffset(current - (BucketCount - 1 - i) * BucketTicks, TimeSpan.Zero), 0, 0, 0);
        foreach (var slice in _slices)
        {
            long index = BucketCount - 1 - (current - slice.Start) / BucketTicks;
            if (index is >= 0 and < BucketCount)
                buckets[index] = new ActivityBucket(buckets[index].Start, slice.Granted, slice.Rejected, slice.Expired);
        }
        return buckets;
    }

    /// <summary>Grants per second over the slice now filling and the one before it.</summary>
    public double GrantsPerSecond(long now)
    {
        long current = now - now % BucketTicks;
        long granted = 0;
        foreach (var slice in _slices)
        {
            if (slice.Start == current || slice.Start == current - BucketTicks)
                granted += slice.Granted;
        }
        double seconds = TimeSpan.FromTicks(now - (current - BucketTicks)).TotalSeconds;
        return seconds <= 0 ? 0 : granted / seconds;
    }

    /// <summary>The slice holding <paramref name="now"/>, added when it is new; slices older than the timeline are dropped.</summary>
    private ref Slice SliceAt(long now)
    {
        long start = now - now % BucketTicks;
        var slices = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_slices);
        if (slices.Length > 0 && slices[^1].Start == start)
            return ref slices[^1];
        int stale = 0;
        while (stale < _slices.Count && _slices[stale].Start <= start - BucketCount * BucketTicks)
            stale++;
        _slices.RemoveRange(0, stale);
        // A clock stepped back lands in a new slice at the end; the timeline reads slices by their start.
        _slices.Add(new Slice { Start = start });
        return ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_slices)[^1];
    }
}
