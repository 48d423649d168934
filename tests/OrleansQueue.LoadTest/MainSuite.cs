using System.Text;
using OrleansQueue.Client;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>One silo with the durable SQLite store: hand-offs and cycles alternating with their floors, then an open loop,
/// a saturated rate limit with two priorities, and jobs.</summary>
internal static class MainSuite
{
    private const int Concurrency = 64;
    private const int Jobs = 900; // below a client's default MaxQueuedPerClient of 1,000

    public static async Task RunAsync(Settings settings, Report report)
    {
        Progress.Step($"starting a silo ({settings.Store})");
        string data = Directory.CreateTempSubdirectory("oq-load-").FullName;
        await using var silo = await SiloProcess.StartAsync("--urls", "http://127.0.0.1:0", "--Silo:Store:Provider", settings.Store,
            "--Silo:Store:Path", Path.Combine(data, "silo.db"));
        using var http = new HttpClient { BaseAddress = silo.Address };
        var many = Enumerable.Range(0, Concurrency).Select(i => $"many-{i}").ToList();
        await Put(http, "hot", $$"""{"maxConcurrent":{{Concurrency}},"leaseTtlMs":60000}""");
        await Put(http, "handoff", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        await Put(http, "open", """{"maxConcurrent":1000,"leaseTtlMs":60000}""");
        await Put(http, "saturated", """{"maxConcurrent":100,"requestsPerWindow":200,"windowMs":1000}""");
        await Put(http, "jobs", """{"maxConcurrent":8}""");
        foreach (string name in many)
            await Put(http, name, """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.Address, ClientId = "load" });

        var rounds = new List<Round>();
        for (int r = 1; r <= settings.Rounds; r++)
        {
            string of = $"round {r}/{settings.Rounds}";
            Progress.Step($"{of}: raw WebSocket echo (floor)", settings.Handoffs);
            var ws = await Scenarios.WebSocketRoundTrips(new Uri(silo.Address, "raw-ws"), settings.Handoffs);
            Progress.Step($"{of}: empty HTTP round trip (floor)", settings.Handoffs);
            var httpFloor = await Scenarios.HttpRoundTrips(http, settings.Handoffs);
            Progress.Step($"{of}: ConcurrencyLimiter hand-offs and cycles (floor)", settings.Handoffs);
            var limiterHandoff = await Scenarios.LimiterHandoffs(settings.Handoffs);
            var limiterCycles = await Scenarios.LimiterCycles(settings.Seconds);
            Progress.Step($"{of}: coordinator hand-offs", settings.Handoffs);
            var handoff = await Scenarios.CoordinatorHandoffs(client, "handoff", settings.Handoffs);
            Progress.Step($"{of}: coordinator cycles, one hot resource");
            var cpu = silo.CpuTime;
            var hot = await Scenarios.CoordinatorCycles(client, ["hot"], settings.Seconds, Concurrency, Concurrency);
            double siloCpuPerCycle = (silo.CpuTime - cpu).TotalMicroseconds / (hot.PerSecond * settings.Seconds);
            Progress.Step($"{of}: coordinator cycles, {Concurrency} resources");
            var spread = await Scenarios.CoordinatorCycles(client, many, settings.Seconds, Concurrency, 1);
            rounds.Add(new Round(ws, httpFloor, limiterHandoff, limiterCycles, handoff, hot, spread, siloCpuPerCycle));
        }
        const int rate = 2000;
        Progress.Step($"open loop: {rate} acquires per second", rate * settings.Seconds);
        var open = await Scenarios.OpenLoop(client, "open", rate, settings.Seconds);
        Progress.Step("saturated rate limit, high and low priority");
        var saturation = await Scenarios.Saturate(client, "saturated", 200, TimeSpan.FromSeconds(1), settings.Seconds + 2);
        await using var worker = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.Address, ClientId = "worker" });
        // The jobs path runs nowhere else in this suite: a first run brings it to the code the JIT settles on (the first
        // cold run costs the silo about twice the CPU per job), as the rounds above do for cycles.
        Progress.Step("jobs: a first run to warm the path (not counted)", Jobs);
        await Scenarios.Jobs(client, worker, "jobs", Jobs, workers: 8);
        Progress.Step("jobs: enqueue, run by a worker, result pushed", Jobs);
        var cpuBeforeJobs = silo.CpuTime;
        var jobs = await Scenarios.Jobs(client, worker, "jobs", Jobs, workers: 8);
        double siloCpuPerJob = (silo.CpuTime - cpuBeforeJobs).TotalMicroseconds / Jobs;
        string metrics = await http.GetStringAsync("metrics");
        bool statusCalls = metrics.Split('\n').Any(l => l.StartsWith("orleansqueue_status_requests_total{", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal));
        var memory = silo.Memory;

        double M(Func<Round, double> f) => Median(rounds.Select(f));
        int overshoot = rounds.Sum(r => r.Handoff.Overshoot + r.Hot.Overshoot + r.Spread.Overshoot) + Math.Max(0, saturation.MostInAWindow - saturation.Limit);
        var md = new StringBuilder();
        md.AppendLine(settings.Store == "sqlite" ? "## One silo, durable SQLite store (WAL, synchronous NORMAL)" : $"## One silo, {settings.Store} store");
        md.AppendLine();
        md.AppendLine("| figure | coordinator | floor | coordinator ÷ floor |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        md.AppendLine($"| hand-off p50, ms (a release → the next waiter's code runs) | {Ms(M(r => r.Handoff.P50))} | {Ms(M(r => r.Ws.P50))} raw WebSocket echo | {M(r => r.Handoff.P50 / r.Ws.P50):0.0} |");
        md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Handoff.P99))} | {Ms(M(r => r.Ws.P99))} | {M(r => r.Handoff.P99 / r.Ws.P99):0.0} |");
        md.AppendLine($"| hand-off p99.9, ms | {Ms(M(r => r.Handoff.P999))} | {Ms(M(r => r.Ws.P999))} | {M(r => r.Handoff.P999 / r.Ws.P999):0.0} |");
        md.AppendLine($"| hand-off p50, ms, vs. ConcurrencyLimiter in process | {Ms(M(r => r.Handoff.P50))} | {Ms(M(r => r.LimiterHandoff.P50))} | {M(r => r.Handoff.P50 / r.LimiterHandoff.P50):0} |");
        md.AppendLine($"| empty HTTP round trip p50 / p99, ms | | {Ms(M(r => r.Http.P50))} / {Ms(M(r => r.Http.P99))} | |");
        md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.Hot.PerSecond):N0} | {M(r => r.LimiterCycles.PerSecond):N0} ConcurrencyLimiter | {M(r => r.Hot.PerSecond / r.LimiterCycles.PerSecond):0.0000} |");
        md.AppendLine($"| acquire+release cycles/s, {Concurrency} resources, one caller each | {M(r => r.Spread.PerSecond):N0} | | |");
        md.AppendLine($"| silo CPU per hot cycle, µs | {M(r => r.SiloCpuPerCycle):0} | | |");
        md.AppendLine($"| open loop, {rate}/s on an idle resource: acquire-to-grant p50 / p99 / p99.9, ms | {Ms(open.P50)} / {Ms(open.P99)} / {Ms(open.P999)} | {Ms(M(r => r.Ws.P50))} / {Ms(M(r => r.Ws.P99))} / {Ms(M(r => r.Ws.P999))} | {open.P50 / M(r => r.Ws.P50):0.0} (p50) |");
        md.AppendLine($"| saturated (200 per 1 s window, 8 high + 8 low callers): budget used | {saturation.BudgetUse:P1} | | |");
        md.AppendLine($"| saturated: most grants in any 1 s window (limit {saturation.Limit}) | {saturation.MostInAWindow} | | |");
        md.AppendLine($"| saturated: priority inversions among {saturation.Grants:N0} grants | {saturation.Inversions} | | |");
        md.AppendLine($"| jobs/s ({Jobs} jobs after as many to warm up; a worker of 8 slots over HTTP, the caller over the WebSocket), enqueue → result pushed p50 / p99, ms | {jobs.PerSecond:N0}; {Ms(jobs.EnqueueToResult.P50)} / {Ms(jobs.EnqueueToResult.P99)} | | |");
        md.AppendLine($"| silo CPU per job, µs | {siloCpuPerJob:0} | | |");
        md.AppendLine($"| overshoot (holders above the limit seen in process, grants above a window's budget) | {overshoot} | | |");
        md.AppendLine($"| status calls while waiting (the silo's counter) | {(statusCalls ? "some" : "0")} | | |");
        md.AppendLine($"| silo process: resident memory now / peak | {MiB(memory.Now)} / {MiB(memory.Peak)} | | |");
        md.AppendLine();
        md.AppendLine("Per round (hand-off p50 and p99 in ms, its raw WebSocket floor p50, hot cycles/s):");
        md.AppendLine();
        foreach (var (r, i) in rounds.Select((r, i) => (r, i + 1)))
            md.AppendLine($"- round {i}: hand-off {Ms(r.Handoff.P50)} / {Ms(r.Handoff.P99)}, floor {Ms(r.Ws.P50)}, {r.Hot.PerSecond:N0} cycles/s");
        report.Section(md.ToString());

        report.Goal("hand-off p99 ≤ 1.5 ms (WebSocket, SQLite)", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 1.5);
        report.Goal("hand-off p50 ≤ 5× the raw WebSocket floor", $"{M(r => r.Handoff.P50 / r.Ws.P50):0.0}×", M(r => r.Handoff.P50 / r.Ws.P50) <= 5);
        report.Goal("WebSocket gateway ≥ 20,000 acquire+release cycles/s on one hot resource, one silo, durable store", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 20_000);
        report.Goal("jobs ≥ 3,000/s, enqueue → result, 8 workers", $"{jobs.PerSecond:N0}/s", jobs.PerSecond >= 3_000);
        report.Goal("overshoot 0 and status calls while waiting 0 (one silo)", $"{overshoot} and {(statusCalls ? "some" : "0")}", overshoot == 0 && !statusCalls);
    }

    public static async Task Put(HttpClient http, string name, string policy)
    {
        using var response = await http.PutAsync($"v1/resources/{name}", new StringContent(policy, System.Text.Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
    }

    private sealed record Round(Latencies Ws, Latencies Http, Latencies LimiterHandoff, Throughput LimiterCycles, Latencies Handoff,
        Throughput Hot, Throughput Spread, double SiloCpuPerCycle);
}
