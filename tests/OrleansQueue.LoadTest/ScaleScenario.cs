using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using OrleansQueue.Client;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>
/// Many resources, many waiters, many connections: every resource is held once, then gets the same number of waiting
/// acquires spread over the connections. With everything waiting, it reads the silo's memory; then it releases the
/// holders of some resources one at a time, measuring each hand-off down their chains of waiters (a waiter releases as
/// soon as its code runs); then it releases all the others at once and times the drain.
/// </summary>
internal static class ScaleScenario
{
    private sealed record GcHeap(long Live, long Committed, bool Server);

    private const int Probed = 300;

    public static async Task RunAsync(Report report, int resources, int waitersPerResource, int connections)
    {
        Progress.Step($"scale: starting a silo (SQLite), creating {resources:N0} resources", resources);
        string data = Directory.CreateTempSubdirectory("oq-scale-").FullName;
        await using var silo = await SiloProcess.StartAsync("--urls", "http://127.0.0.1:0", "--Silo:Store:Path", Path.Combine(data, "silo.db"));
        using var http = new HttpClient { BaseAddress = silo.Address };
        await Parallel.ForEachAsync(Enumerable.Range(0, resources), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            await MainSuite.Put(http, $"scale-{i}", """{"maxConcurrent":1,"leaseTtlMs":600000,"defaultMaxWaitMs":600000,"claimWindowMs":600000}""");
            Progress.Advance();
        });
        var clients = Enumerable.Range(0, connections)
            .Select(i => new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.Address, ClientId = $"c{i}" }))
            .ToArray();
        Progress.Step($"scale: one holder per resource over {connections:N0} connections", resources);
        var holders = new Lease[resources];
        await Parallel.ForEachAsync(Enumerable.Range(0, resources), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
        {
            holders[i] = await clients[i % connections].AcquireAsync($"scale-{i}");
            Progress.Advance();
        });

        Progress.Step($"scale: {resources * waitersPerResource:N0} waiting acquires", resources * waitersPerResource);
        var releasedAt = new long[resources];
        var remaining = Enumerable.Repeat(waitersPerResource, resources).ToArray();
        var drained = Enumerable.Range(0, resources).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var probedHandoffs = new ConcurrentBag<double>();
        var drainHandoffs = new ConcurrentBag<double>();
        bool probing = true;
        var waiters = new List<Task>(resources * waitersPerResource);
        for (int w = 0; w < waitersPerResource; w++)
        {
            for (int i = 0; i < resources; i++)
            {
                int resource = i;
                var client = clients[(i * waitersPerResource + w) % connections];
                waiters.Add(Task.Run(async () =>
                {
                    var lease = await client.AcquireAsync($"scale-{resource}", maxWait: TimeSpan.FromMinutes(10));
                    long from = Interlocked.Exchange(ref releasedAt[resource], 0);
                    if (from != 0)
                        (Volatile.Read(ref probing) ? probedHandoffs : drainHandoffs).Add(Stopwatch.GetElapsedTime(from).TotalMilliseconds);
                    Volatile.Write(ref releasedAt[resource], Stopwatch.GetTimestamp());
                    await lease.ReleaseAsync();
                    if (Interlocked.Decrement(ref remaining[resource]) == 0)
                        drained[resource].SetResult();
                }));
            }
        }
        var filling = Stopwatch.StartNew();
        while (true)
        {
            string metrics = await http.GetStringAsync("metrics");
            long waiting = metrics.Split('\n').Where(l => l.StartsWith("orleansqueue_queue_depth{", StringComparison.Ordinal))
                .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..]));
            Progress.Set((int)waiting);
            if (waiting >= (long)resources * waitersPerResource || filling.Elapsed > TimeSpan.FromMinutes(5))
                break;
            await Task.Delay(500); // filling the waitlists; the silo's metrics are the witness
        }
        var (everythingWaiting, _) = silo.Memory;
        var heap = await http.GetFromJsonAsync<GcHeap>("gc-heap");
        var clientsManaged = GC.GetTotalMemory(forceFullCollection: true);

        Progress.Step($"scale: hand-offs down {Probed} resources' chains, one resource at a time", Probed);
        for (int i = 0; i < Probed; i++)
        {
            Volatile.Write(ref releasedAt[i], Stopwatch.GetTimestamp());
            await holders[i].ReleaseAsync();
            await drained[i].Task.WaitAsync(TimeSpan.FromMinutes(1));
            Progress.Advance();
        }
        Volatile.Write(ref probing, false);

        Progress.Step($"scale: releasing the other {resources - Probed:N0} holders at once");
        long drainStart = Stopwatch.GetTimestamp();
        for (int i = Probed; i < resources; i++)
            Volatile.Write(ref releasedAt[i], Stopwatch.GetTimestamp());
        await Task.WhenAll(holders.Skip(Probed).Select(h => h.ReleaseAsync().AsTask()));
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromMinutes(10));
        double drain = Stopwatch.GetElapsedTime(drainStart).TotalSeconds;
        var (_, peak) = silo.Memory;
        foreach (var client in clients)
            await client.DisposeAsync();

        var probed = Latencies.Of(probedHandoffs);
        var burst = Latencies.Of(drainHandoffs);
        var md = new StringBuilder();
        md.AppendLine($"## Scale: {resources:N0} resources, {resources * waitersPerResource:N0} waiting acquires, {connections:N0} connections (SQLite)");
        md.AppendLine();
        md.AppendLine("Every resource (MaxConcurrent 1) is held once and gets 10 waiting acquires spread over the connections; each");
        md.AppendLine("waiter releases as soon as its code runs, so a release hands the slot down the resource's chain.");
        md.AppendLine();
        md.AppendLine("| figure | value |");
        md.AppendLine("| --- | ---: |");
        md.AppendLine($"| silo process resident memory with everything waiting | {MiB(everythingWaiting)} |");
        md.AppendLine($"| … of which the managed heap holds alive (after a full collection) / the GC has committed | {MiB(heap!.Live)} / {MiB(heap.Committed)} |");
        md.AppendLine($"| live managed bytes per waiting acquire (the whole heap ÷ the waiters) | {heap.Live / (resources * waitersPerResource):N0} B |");
        md.AppendLine($"| silo process peak resident memory over the whole scenario ({(heap.Server ? "server" : "workstation")} GC) | {MiB(peak)} |");
        md.AppendLine($"| the load's managed heap (1,000 clients), for comparison | {MiB(clientsManaged)} |");
        md.AppendLine($"| hand-off p50 / p99 / p99.9 with everything waiting, {probedHandoffs.Count:N0} hand-offs, one chain at a time, ms | {Ms(probed.P50)} / {Ms(probed.P99)} / {Ms(probed.P999)} |");
        md.AppendLine($"| hand-off p50 / p99 when the other {resources - Probed:N0} resources are released at the same instant, ms | {Ms(burst.P50)} / {Ms(burst.P99)} |");
        md.AppendLine($"| time to drain those {(resources - Probed) * waitersPerResource:N0} waiters | {drain:0.0} s |");
        report.Section(md.ToString());
        report.Goal($"{resources:N0} resources, {resources * waitersPerResource:N0} waiting acquires, {connections:N0} connections: silo under 1 GiB",
            $"{MiB(everythingWaiting)} waiting, {MiB(peak)} peak", peak < 1L << 30);
        report.Goal($"… and the {(resources - Probed) * waitersPerResource:N0} waiters released at once drain at ≥ 20,000 grants/s",
            $"{(resources - Probed) * waitersPerResource / drain:N0} grants/s", (resources - Probed) * waitersPerResource / drain >= 20_000);
        report.Goal("… and every grant still pushed within the hand-off goal (p99 ≤ 1 ms)", $"p99 {Ms(probed.P99)} ms one chain at a time; {Ms(burst.P99)} ms with {resources - Probed:N0} at once",
            probed.P99 <= 1 && burst.P99 <= 1);
    }
}
