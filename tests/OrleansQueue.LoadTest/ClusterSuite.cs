using System.Diagnostics;
using System.Globalization;
using System.Text;
using OrleansQueue.Client;
using OrleansQueue.Tests.Cluster;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>
/// Three silos in their own processes on Redis clustering and the Redis store, over a throwaway redis-server that fsyncs
/// its append-only file on every write (as in production): hand-offs and cycles through the silo where the resource is
/// active and through another silo (Orleans routes the call), beside the raw WebSocket floor of the same rounds; then
/// every silo's share of a spread load.
/// </summary>
internal static class ClusterSuite
{
    private const int Silos = 3;
    private const int Concurrency = 64;

    public static async Task RunAsync(Settings settings, Report report)
    {
        if (!RedisServer.IsAvailable)
        {
            report.Section("## Cluster\n\nNot run: " + RedisServer.HowToEnable + "\n");
            report.NotMeasured("cluster on Redis: hand-off and cycles through the resource's silo and through another", "redis-server not installed");
            return;
        }
        Progress.Step("cluster: starting redis-server (appendfsync always) and three silos");
        string redis = await RedisServer.AddressAsync();
        report.Version("Redis " + await RedisVersionAsync(redis));
        var silos = new List<SiloProcess>();
        try
        {
            string cluster = $"load-{Guid.NewGuid():N}";
            for (int i = 0; i < Silos; i++)
            {
                silos.Add(await SiloProcess.StartAsync("--urls", $"http://127.0.0.1:{PostgresServer.FreePort()}",
                    "--Silo:Clustering:Provider", "redis", "--Silo:Clustering:ConnectionString", redis, "--Silo:Clustering:ClusterId", cluster,
                    "--Silo:Clustering:SiloPort", "0", "--Silo:Clustering:GatewayPort", "0",
                    "--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", redis));
            }
            await RunAsync(settings, report, silos);
        }
        finally
        {
            foreach (var silo in silos)
                await silo.DisposeAsync();
        }
    }

    private static async Task RunAsync(Settings settings, Report report, List<SiloProcess> silos)
    {
        var https = silos.Select(s => new HttpClient { BaseAddress = s.Address }).ToList();
        // Orleans forms the cluster as the silos start; a resource defined through one is served through all.
        await MainSuite.Put(https[0], "joined", """{"maxConcurrent":1}""");
        foreach (var http in https)
            (await http.GetAsync("v1/resources/joined/stats")).EnsureSuccessStatusCode();
        var many = Enumerable.Range(0, Concurrency).Select(i => $"many-{i}").ToList();
        await MainSuite.Put(https[0], "handoff", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        await MainSuite.Put(https[0], "hot", $$"""{"maxConcurrent":{{Concurrency}},"leaseTtlMs":60000}""");
        foreach (string name in many)
            await MainSuite.Put(https[0], name, """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        var clients = silos.Select((s, i) => new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = s.Address, ClientId = $"load-{i}" })).ToList();
        try
        {
            // Activate both resources, then find the silo each is active on: the one whose gauges list it.
            await (await clients[0].AcquireAsync("handoff")).DisposeAsync();
            await (await clients[0].AcquireAsync("hot")).DisposeAsync();
            int handoffOwner = await OwnerAsync(https, "handoff");
            int hotOwner = await OwnerAsync(https, "hot");
            int handoffOther = (handoffOwner + 1) % Silos, hotOther = (hotOwner + 1) % Silos;

            var rounds = new List<Round>();
            for (int r = 1; r <= settings.Rounds; r++)
            {
                string of = $"cluster round {r}/{settings.Rounds}";
                Progress.Step($"{of}: raw WebSocket echo (floor)", settings.Handoffs);
                var ws = await Scenarios.WebSocketRoundTrips(new Uri(silos[handoffOwner].Address, "raw-ws"), settings.Handoffs);
                Progress.Step($"{of}: hand-offs through the owner", settings.Handoffs);
                var direct = await Scenarios.CoordinatorHandoffs(clients[handoffOwner], "handoff", settings.Handoffs);
                Progress.Step($"{of}: hand-offs through another silo", settings.Handoffs);
                var forwarded = await Scenarios.CoordinatorHandoffs(clients[handoffOther], "handoff", settings.Handoffs);
                Progress.Step($"{of}: hot cycles through the owner");
                var hotDirect = await Scenarios.CoordinatorCycles(clients[hotOwner], ["hot"], settings.Seconds, Concurrency, Concurrency);
                Progress.Step($"{of}: hot cycles through another silo");
                var hotForwarded = await Scenarios.CoordinatorCycles(clients[hotOther], ["hot"], settings.Seconds, Concurrency, Concurrency);
                Progress.Step($"{of}: {Concurrency} resources over the three silos, a client on each");
                // Each client has its own third of the resources, so no two callers share one.
                var spread = await Task.WhenAll(clients.Select((c, k) =>
                {
                    var mine = many.Where((_, j) => j % Silos == k).ToList();
                    return Scenarios.CoordinatorCycles(c, mine, settings.Seconds, mine.Count, 1);
                }));
                rounds.Add(new Round(ws, direct, forwarded, hotDirect, hotForwarded, spread.Sum(s => s.PerSecond), spread.Sum(s => s.Overshoot)));
            }
            bool statusCalls = (await Task.WhenAll(https.Select(h => Metric(h, "orleansqueue_status_requests_total")))).Sum() > 0;
            Progress.Step("cluster: kill -9 the silo of a busy resource; the gap until grants resume through another silo");
            var failover = await FailoverGapAsync(silos, https, clients);

            double M(Func<Round, double> f) => Median(rounds.Select(f));
            int overshoot = rounds.Sum(r => r.Direct.Overshoot + r.Forwarded.Overshoot + r.HotDirect.Overshoot + r.HotForwarded.Overshoot + r.SpreadOvershoot);
            var md = new StringBuilder();
            md.AppendLine("## Cluster: three silos on Redis clustering and the Redis store (appendfsync always)");
            md.AppendLine();
            md.AppendLine("Each silo is a process of its own; the clients connect to the silo where the resource is active, or to another,");
            md.AppendLine("whose grain call Orleans routes there (and whose pushes come back the same way).");
            md.AppendLine();
            md.AppendLine("| figure | through the resource's silo | through another silo | floor | resource's silo ÷ floor |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: |");
            md.AppendLine($"| hand-off p50, ms | {Ms(M(r => r.Direct.P50))} | {Ms(M(r => r.Forwarded.P50))} | {Ms(M(r => r.Ws.P50))} raw WebSocket echo | {M(r => r.Direct.P50 / r.Ws.P50):0.0} |");
            md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Direct.P99))} | {Ms(M(r => r.Forwarded.P99))} | {Ms(M(r => r.Ws.P99))} | {M(r => r.Direct.P99 / r.Ws.P99):0.0} |");
            md.AppendLine($"| hand-off p99.9, ms | {Ms(M(r => r.Direct.P999))} | {Ms(M(r => r.Forwarded.P999))} | {Ms(M(r => r.Ws.P999))} | |");
            md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.HotDirect.PerSecond):N0} | {M(r => r.HotForwarded.PerSecond):N0} | | |");
            md.AppendLine($"| acquire+release cycles/s, {Concurrency} resources spread over the silos, a client on each | {M(r => r.Spread):N0} in all | | | |");
            md.AppendLine($"| failover gap, ms: the resource's silo killed (SIGKILL) under a closed loop through another silo → the first grant of an acquire made after the kill | {failover.GapMs:0} | | | |");
            md.AppendLine($"| overshoot; status calls while waiting | {overshoot + failover.Overshoot}; {(statusCalls ? "some" : "0")} | | | |");
            md.AppendLine($"| silo processes' peak resident memory | {string.Join(" / ", silos.Select(s => MiB(s.Memory.Peak)))} | | | |");
            report.Section(md.ToString());
            report.Goal("cluster (3 silos, Redis clustering and store): overshoot 0 and status calls 0", $"{overshoot + failover.Overshoot} and {(statusCalls ? "some" : "0")}", overshoot + failover.Overshoot == 0 && !statusCalls);
            report.Goal("cluster spread ≥ 12,000 cycles/s in all", $"{M(r => r.Spread):N0}/s", M(r => r.Spread) >= 12_000);
            report.Goal("cluster hand-off p99 ≤ 1.2 ms (through the resource's silo)", $"{Ms(M(r => r.Direct.P99))} ms", M(r => r.Direct.P99) <= 1.2);
            report.Goal("cluster: grants resume within 2 s of a kill -9", $"{failover.GapMs:0} ms", failover.GapMs <= 2000);
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
            foreach (var http in https)
                http.Dispose();
        }
    }

    /// <summary>
    /// Four callers through a silo that does not host resource "failover" acquire and release it in a closed loop (at most
    /// two at once); the silo hosting it is killed with SIGKILL, and the gap is from the kill to the first grant of an acquire made after it.
    /// The killed silo is the last one, so the suite's other figures are all taken before.
    /// </summary>
    private static async Task<(double GapMs, int Overshoot)> FailoverGapAsync(List<SiloProcess> silos, List<HttpClient> https, List<OrleansQueueClient> clients)
    {
        await MainSuite.Put(https[0], "failover", """{"maxConcurrent":2,"leaseTtlMs":60000,"defaultMaxWaitMs":60000}""");
        int owner;
        await using (await clients[0].AcquireAsync("failover")) // held, so that its silo's gauges list it
        {
            owner = await OwnerAsync(https, "failover");
        }
        var through = clients[(owner + 1) % Silos];
        long killedAt = 0, firstAfter = 0, grants = 0;
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int holders = 0, overshoot = 0;
        using var stop = new CancellationTokenSource();
        var callers = Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                long asked = Stopwatch.GetTimestamp();
                await using var lease = await through.AcquireAsync("failover");
                // Only an acquire made after the kill counts: one answered by the dead silo may arrive just after it.
                if (Volatile.Read(ref killedAt) is > 0 and var killed && asked > killed)
                    Interlocked.CompareExchange(ref firstAfter, Stopwatch.GetTimestamp(), 0);
                if (Interlocked.Increment(ref grants) == 100)
                    running.TrySetResult();
                if (Interlocked.Increment(ref holders) > 2)
                    Interlocked.Increment(ref overshoot);
                Interlocked.Decrement(ref holders);
            }
        }).ToList();
        await running.Task.WaitAsync(TimeSpan.FromSeconds(60)); // the loop is running (100 grants) before the kill
        Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
        await silos[owner].DisposeAsync();
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (Volatile.Read(ref firstAfter) == 0 && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(10);
        stop.Cancel();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
        long first = Volatile.Read(ref firstAfter);
        return (first == 0 ? double.PositiveInfinity : Stopwatch.GetElapsedTime(killedAt, first).TotalMilliseconds, overshoot);
    }

    private static async Task<int> OwnerAsync(List<HttpClient> https, string resource)
    {
        // The exporter answers a scrape from a cache of a few hundred milliseconds: ask again until the gauge shows.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await OwnerOnceAsync(https, resource);
            }
            catch (InvalidOperationException) when (attempt < 30)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<int> OwnerOnceAsync(List<HttpClient> https, string resource)
    {
        var listing = await Task.WhenAll(https.Select(h => h.GetStringAsync("metrics")));
        var owners = Enumerable.Range(0, https.Count).Where(i => listing[i].Split('\n').Any(l => l.StartsWith("orleansqueue_leases{", StringComparison.Ordinal) && l.Contains($"resource=\"{resource}\"", StringComparison.Ordinal))).ToList();
        return owners.Count == 1 ? owners[0] : throw new InvalidOperationException($"{owners.Count} silos host {resource}; expected exactly one.");
    }

    /// <summary>The sum of a metric's samples in the silo's /metrics (0 when absent).</summary>
    private static async Task<double> Metric(HttpClient http, string name) =>
        (await http.GetStringAsync("metrics")).Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static async Task<string> RedisVersionAsync(string address)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(address);
        return redis.GetServers().First().Version.ToString();
    }

    private sealed record Round(Latencies Ws, Latencies Direct, Latencies Forwarded, Throughput HotDirect, Throughput HotForwarded, double Spread, int SpreadOvershoot);
}
