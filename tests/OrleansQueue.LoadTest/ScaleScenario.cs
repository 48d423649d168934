using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansQueue.Client;

namespace OrleansQueue.LoadTest;

/// <summary>
/// Many resources, many waiters, many connections: every resource is held once, then each gets the same number of
/// waiting acquires spread over the connections. Reports memory with everything waiting, then releases every holder
/// and measures each hand-off (from the release to the first waiter's code running).
/// </summary>
internal static class ScaleScenario
{
    public static async Task<string> RunAsync(Uri address, HttpClient http, int resources, int waitersPerResource, int connections)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, resources), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            using var response = await http.PutAsync($"v1/resources/scale-{i}", new StringContent("""{"maxConcurrent":1,"leaseTtlMs":600000,"defaultMaxWaitMs":600000,"claimWindowMs":600000}"""), ct);
            response.EnsureSuccessStatusCode();
        });
        var clients = Enumerable.Range(0, connections)
            .Select(i => new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = address, ClientId = $"c{i}" }))
            .ToArray();
        var holders = new Lease[resources];
        await Parallel.ForEachAsync(Enumerable.Range(0, resources), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
            holders[i] = await clients[i % connections].AcquireAsync($"scale-{i}"));

        var releasedAt = new long[resources];
        var handoffs = new ConcurrentBag<double>();
        var waiters = new List<Task>(resources * waitersPerResource);
        for (int w = 0; w < waitersPerResource; w++)
        {
            for (int i = 0; i < resources; i++)
            {
                int resource = i;
                var client = clients[(i * waitersPerResource + w) % connections];
                waiters.Add(Task.Run(async () =>
                {
                    var lease = await client.AcquireAsync($"scale-{resource}");
                    long from = Interlocked.Exchange(ref releasedAt[resource], 0);
                    if (from != 0)
                        handoffs.Add(Stopwatch.GetElapsedTime(from).TotalMilliseconds);
                    Volatile.Write(ref releasedAt[resource], Stopwatch.GetTimestamp());
                    await lease.ReleaseAsync();
                }));
            }
        }
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            var stats = await http.GetStringAsync("metrics");
            long waiting = stats.Split('\n').Where(l => l.StartsWith("orleansqueue_queue_depth{", StringComparison.Ordinal))
                .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..]));
            if (waiting >= (long)resources * waitersPerResource || Stopwatch.GetElapsedTime(start) > TimeSpan.FromMinutes(5))
                break;
            await Task.Delay(500); // filling the waitlists; the metrics are the witness
        }
        GC.Collect();
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        long workingSet = Process.GetCurrentProcess().WorkingSet64;

        long drainStart = Stopwatch.GetTimestamp();
        for (int i = 0; i < resources; i++)
            Volatile.Write(ref releasedAt[i], Stopwatch.GetTimestamp());
        await Task.WhenAll(holders.Select(h => h.ReleaseAsync().AsTask()));
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromMinutes(10));
        double drain = Stopwatch.GetElapsedTime(drainStart).TotalSeconds;
        foreach (var client in clients)
            await client.DisposeAsync();

        var sorted = handoffs.OrderBy(x => x).ToList();
        double At(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        return $"""
            | {resources:N0} resources, {resources * waitersPerResource:N0} waiting acquires, {connections:N0} connections | figure |
            | --- | ---: |
            | managed heap with everything waiting (silo and load together) | {managed / (1024 * 1024):N0} MiB |
            | working set with everything waiting (silo and load together) | {workingSet / (1024 * 1024):N0} MiB |
            | hand-off p50 / p99 while draining, ms | {At(0.5):0.000} / {At(0.99):0.000} |
            | time to drain every waiter (each releases at once) | {drain:0.0} s |
            """;
    }
}
