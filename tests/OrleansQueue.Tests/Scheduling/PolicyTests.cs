using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Tests.Scheduling;

public sealed class PolicyTests : SchedulerTestBase
{
    [Fact]
    public void TheDefaultPolicyIsValid() => Assert.Empty(ResourcePolicy.Default.Validate());

    [Fact]
    public void EveryBrokenRuleIsReportedWithItsField()
    {
        var policy = new ResourcePolicy
        {
            MaxConcurrent = 0, RequestsPerWindow = -1, LoadPerWindow = 0, Window = TimeSpan.Zero,
            MaxQueueLength = -1, MaxQueuedPerClient = -2, DefaultMaxWait = TimeSpan.FromHours(2),
            MaxWait = TimeSpan.FromHours(1), LeaseTtl = TimeSpan.FromSeconds(5), ClaimWindow = TimeSpan.FromSeconds(6),
            AgingInterval = TimeSpan.FromSeconds(-1),
        };

        var fields = policy.Validate().Select(e => e.Field).ToList();

        Assert.Equal(
            ["MaxConcurrent", "RequestsPerWindow", "LoadPerWindow", "Window", "MaxQueueLength", "MaxQueuedPerClient",
             "DefaultMaxWait", "ClaimWindow", "AgingInterval"],
            fields);
    }

    [Fact]
    public void AGrainRefusesAnInvalidPolicyAndKeepsTheOldOne()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 2 });
        var error = Assert.Throws<InvalidPolicyException>(() => grain.UpdatePolicy(new ResourcePolicy { MaxConcurrent = 0 }));
        Assert.Contains("MaxConcurrent must be at least 1", error.Message);
        Assert.Equal(2, grain.Policy.MaxConcurrent);
        Assert.Throws<InvalidPolicyException>(() => NewScheduler(new ResourcePolicy { Window = TimeSpan.FromDays(2) }));
    }

    [Fact]
    public void RemovingTheRateLimitsForgetsPastSpendingAndAddingThemStartsAFreshWindow()
    {
        var grain = NewScheduler(new ResourcePolicy { RequestsPerWindow = 1 });
        Granted(grain.Acquire("a"));
        grain.UpdatePolicy(grain.Policy with { RequestsPerWindow = null });
        Granted(grain.Acquire("a"));
        grain.UpdatePolicy(grain.Policy with { RequestsPerWindow = 1 });
        Granted(grain.Acquire("a"));
        Queued(grain.Acquire("a"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(15L)]
    [InlineData(16L)]
    [InlineData(1000L)]
    [InlineData(123_456_789L)]
    [InlineData(long.MaxValue)]
    public void HistogramBucketsBoundTheirValuesWithinAnEighth(long value)
    {
        int bucket = LatencyHistogram.BucketOf(value);
        long upper = LatencyHistogram.UpperBound(bucket);
        Assert.True(upper >= value, $"upper {upper} < {value}");
        Assert.True(upper - value <= Math.Max(0, value / 8), $"upper {upper} too far above {value}");
    }

    [Fact]
    public void AHistogramGrowsToTheLargestValueAndKeepsWhatItCountedBefore()
    {
        var histogram = new LatencyHistogram();
        Assert.Equal(0, histogram.Percentile(0.5));
        for (int i = 0; i < 9; i++)
            histogram.Record(10);
        histogram.Record(long.MaxValue); // the last bucket there is

        Assert.Equal(10, histogram.Percentile(0.5));
        Assert.Equal(10, histogram.Percentile(0.9));
        Assert.Equal(long.MaxValue, histogram.Percentile(1.0));
        histogram.Record(1_000_000); // inside the buckets it already has
        Assert.Equal(11, histogram.Count);
        Assert.InRange(histogram.Percentile(10.0 / 11), 1_000_000, 1_000_000 + 1_000_000 / 8);
    }
}
