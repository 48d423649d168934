using OrleansQueue.Scheduling;

namespace OrleansQueue.Benchmarks;

/// <summary>Measures the managed heap that each waiting request costs, by filling a waitlist of one million.</summary>
public static class MemoryPerWaiter
{
    public static void Run()
    {
        const int waiters = 1_000_000;
        var clients = Enumerable.Range(0, 1_000).Select(i => $"client-{i}").ToArray();
        var grain = new ResourceScheduler("memory", new ResourcePolicy
        {
            MaxConcurrent = 1, MaxQueueLength = waiters, MaxQueuedPerClient = waiters,
            DefaultMaxWait = TimeSpan.FromDays(1), MaxWait = TimeSpan.FromDays(1),
        });
        grain.Acquire("holder");
        long before = Heap();
        for (int i = 0; i < waiters; i++)
            grain.Acquire(clients[i % clients.Length], 1 + (i & 7), (Priority)(i % PriorityLevels.Count));
        long after = Heap();
        GC.KeepAlive(grain);
        Console.WriteLine($"waiting requests: {waiters:N0}");
        Console.WriteLine($"heap growth: {(after - before) / (1024.0 * 1024):F1} MiB");
        Console.WriteLine($"bytes per waiting request: {(after - before) / (double)waiters:F1}");
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
