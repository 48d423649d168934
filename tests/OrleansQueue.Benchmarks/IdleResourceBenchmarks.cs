using BenchmarkDotNet.Attributes;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Benchmarks;

/// <summary>Acquire and release on a resource with nobody waiting: the grant decision at its cheapest.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class IdleResourceBenchmarks
{
    private ResourceScheduler _concurrencyOnly = null!;
    private ResourceScheduler _allLimits = null!;

    [GlobalSetup]
    public void Setup()
    {
        _concurrencyOnly = new ResourceScheduler("idle", new ResourcePolicy { MaxConcurrent = 100 });
        // Rate limits high enough never to bind, so every call is a grant; the one-second window keeps the
        // spending log at a steady size once warm.
        _allLimits = new ResourceScheduler("idle-rate", new ResourcePolicy
        {
            MaxConcurrent = 100, RequestsPerWindow = 100_000_000, LoadPerWindow = 1L << 40, Window = TimeSpan.FromSeconds(1),
        });
    }

    [Benchmark(Baseline = true, Description = "acquire+release, concurrency limit")]
    public LeaseResult AcquireReleaseConcurrency()
    {
        var lease = _concurrencyOnly.Acquire("client", 1, Priority.Normal);
        return _concurrencyOnly.Release(lease.RequestId);
    }

    [Benchmark(Description = "acquire+release, concurrency + requests + load per window")]
    public LeaseResult AcquireReleaseAllLimits()
    {
        var lease = _allLimits.Acquire("client", 100, Priority.Normal);
        return _allLimits.Release(lease.RequestId, actualLoad: 80);
    }
}
