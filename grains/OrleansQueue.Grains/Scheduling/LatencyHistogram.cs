using System.Numerics;

namespace OrleansQueue.Grains.Scheduling;

/// <summary>
/// Log-linear histogram of durations in microseconds: exact below 16 µs, then eight buckets per power
/// of two (at most 12.5% error). Fixed size, so recording never allocates.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 8;
    private readonly long[] _counts = new long[16 + (63 - 4) * SubBuckets];

    public long Count { get; private set; }
    public long Max { get; private set; }

    public void Record(long micros)
    {
        if (micros < 0)
            micros = 0;
        _counts[BucketOf(micros)]++;
        Count++;
        Max = Math.Max(Max, micros);
    }

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
