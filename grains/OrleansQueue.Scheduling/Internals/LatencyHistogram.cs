using System.Numerics;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// Log-linear histogram of durations in microseconds: exact below 16 µs, then eight buckets per power
/// of two (at most 12.5% error). Its buckets reach only as far as the largest value recorded, in steps of four powers of
/// two: a histogram that has recorded nothing holds nothing (every resource has three), and one of waits up to ten
/// minutes holds 224 buckets, not the 488 that durations up to 2^63 µs would need. Recording allocates only when it
/// reaches past the buckets so far.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 8;
    private const int MaxBuckets = 16 + (63 - 4) * SubBuckets;
    private const int Step = 4 * SubBuckets;
    private long[] _counts = [];

    public long Count { get; private set; }
    public long Max { get; private set; }

    public void Record(long micros)
    {
        if (micros < 0)
            micros = 0;
        int bucket = BucketOf(micros);
        if (bucket >= _counts.Length)
            Array.Resize(ref _counts, Math.Min(MaxBuckets, (bucket / Step + 1) * Step));
        _counts[bucket]++;
        Count++;
        Max = Math.Max(Max, micros);
    }

    /// <summary><see cref="Percentile"/> as a duration.</summary>
    public TimeSpan TimeAt(double quantile) => TimeSpan.FromTicks(Percentile(quantile) * TimeSpan.TicksPerMicrosecond);

    /// <summary><see cref="Max"/> as a duration.</summary>
    public TimeSpan MaxTime => TimeSpan.FromTicks(Max * TimeSpan.TicksPerMicrosecond);

    /// <summary>The value at or below which <paramref name="quantile"/> of the recordings fall (upper bucket bound).</summary>
    public long Percentile(double quantile)
    {
        if (Count == 0)
            return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
                return Math.Min(UpperBound(i), Max);
        }
        return Max;
    }

    internal static int BucketOf(long v)
    {
        if (v < 16)
            return (int)v;
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)v);
        int sub = (int)((v >> (msb - 3)) & (SubBuckets - 1));
        return 16 + (msb - 4) * SubBuckets + sub;
    }

    internal static long UpperBound(int bucket)
    {
        if (bucket < 16)
            return bucket;
        int msb = (bucket - 16) / SubBuckets + 4;
        int sub = (bucket - 16) % SubBuckets;
        return ((long)(SubBuckets + sub + 1) << (msb - 3)) - 1;
    }
}
