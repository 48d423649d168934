using BenchmarkDotNet.Attributes;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Benchmarks;

/// <summary>
/// A saturated resource with a standing waitlist: each operation releases the held lease (granting the head of
/// the waitlist), claims the grant, and enqueues one new request, so the waitlist keeps its size.
/// Clients (1,000) and priorities (5) of the new requests cycle through a fixed random sequence.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class WaitlistBenchmarks
{
    private const int Clients = 1_000;
    private const int Sequence = 1 << 16;

    private ResourceScheduler _grain = null!;
    private string[] _clientIds = null!;
    private int[] _clientOf = null!;
    private Priority[] _priorityOf = null!;
    private int _next;
    private long _held;

    [Params(1_000, 100_000, 1_000_000)]
    public int Waiters { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _clientIds = Enumerable.Range(0, Clients).Select(i => $"client-{i}").ToArray();
        _clientOf = Enumerable.Range(0, Sequence).Select(_ => rng.Next(Clients)).ToArray();
        _priorityOf = Enumerable.Range(0, Sequence).Select(_ => (Priority)rng.Next(PriorityLevels.Count)).ToArray();
        _grain = new ResourceScheduler("hot", new ResourcePolicy
        {
            MaxConcurrent = 1,
            MaxQueueLength = 2_000_000,
            MaxQueuedPerClient = 1_000_000,
            DefaultMaxWait = TimeSpan.FromDays(1),
            MaxWait = TimeSpan.FromDays(1),
            LeaseTtl = TimeSpan.FromDays(1),
            ClaimWindow = TimeSpan.FromDays(1),
        });
        _held = _grain.Acquire("holder").RequestId;
        for (int i = 0; i < Waiters; i++)
            Enqueue();
    }

    [Benchmark(Description = "release -> grant head -> claim -> enqueue one")]
    public long GrantCycle()
    {
        _grain.Release(_held);
        _held = _grain.Events[0].RequestId;
        _grain.ClearEvents();
        _grain.Renew(_held);
        Enqueue();
        return _held;
    }

    private void Enqueue()
    {
        int i = _next++ & (Sequence - 1);
        _grain.Acquire(_clientIds[_clientOf[i]], 1 + (i & 7), _priorityOf[i]);
    }
}
