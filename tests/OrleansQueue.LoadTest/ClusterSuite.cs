using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using OrleansQueue.Client;
using OrleansQueue.Tests.Cluster;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>
/// Three silos in their own processes over a throwaway PostgreSQL that flushes its commits (fsync and synchronous
/// commit on, as in production): hand-offs and cycles through the resource's owner and through another silo that
/// forwards to it, beside the raw WebSocket floor of the same rounds; then every silo's share of a spread load.
/// </summary>
internal static class ClusterSuite
{
    private const int Silos = 3;
    private const int Concurrency = 64;

    public static async Task RunAsync(Settings settings, Report report)
    {
        if (!PostgresServer.IsAvailable)
        {
            report.Section("## Cluster\n\nNot run: " + PostgresServer.HowToEnable + "\n");
            report.NotMeasured("cluster on PostgreSQL: hand-off and cycles through the owner and through a forwarding silo", "PostgreSQL not installed");
            return;
        }
        Progress.Step("cluster: starting PostgreSQL (durable) and three silos");
        PostgresServer.Durable = true;
        string database = await PostgresServer.CreateDatabaseAsync();
        report.Version(await PostgresVersionAsync(database));
        var silos = new List<SiloProcess>();
        try
        {
            foreach (int port in Enumerable.Range(0, Silos).Select(_ => PostgresServer.FreePort()).ToList())
            {
                string address = $"http://127.0.0.1:{port}";
                silos.Add(await SiloProcess.StartAsync("--urls", address, "--Silo:Store:Provider", "postgres",
                    "--Silo:Store:ConnectionString", database, "--Silo:Cluster:Address", address + "/"));
            }
            await RunAsync(settings, report, silos, database);
        }
        finally
        {
            foreach (var silo in silos)
                await silo.DisposeAsync();
        }
    }

    private static async Task RunAsync(Settings settings, Report report, List<SiloProcess> silos, string database)
    {
        var https = silos.Select(s => new HttpClient { BaseAddress = s.Address }).ToList();
        var joined = Stopwatch.StartNew();
        while (!(await Task.WhenAll(https.Select(h => Metric(h, "orleansqueue_cluster_silos")))).All(n => n == Silos))
        {
            if (joined.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException("The three silos did not see each other within 60 s.");
            await Task.Delay(200); // the silos' own heartbeats are what is awaited; their gauges are the witness
        }
        var many = Enumerable.Range(0, Concurrency).Select(i => $"many-{i}").ToList();
        await MainSuite.Put(https[0], "handoff", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        await MainSuite.Put(https[0], "hot", $$"""{"maxConcurrent":{{Concurrency}},"leaseTtlMs":60000}""");
        foreach (string name in many)
            await MainSuite.Put(https[0], name, """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        var clients = silos.Select((s, i) => new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = s.Address, ClientId = $"load-{i}" })).ToList();
        try
        {
            // Activate both resources, then find their owner: the one silo whose gauges list them.
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
                Progress.Step($"{of}: hand-offs through a forwarding silo", settings.Handoffs);
                var forwarded = await Scenarios.CoordinatorHandoffs(clients[handoffOther], "handoff", settings.Handoffs);
                Progress.Step($"{of}: hot cycles through the owner");
                var hotDirect = await Scenarios.CoordinatorCycles(clients[hotOwner], ["hot"], settings.Seconds, Concurrency, Concurrency);
                Progress.Step($"{of}: hot cycles through a forwarding silo");
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
            var commits = await Task.WhenAll(https.Select(async h => (Sum: await Metric(h, "orleansqueue_store_commit_seconds_sum"), Count: await Metric(h, "orleansqueue_store_commit_seconds_count"))));
            double commitMs = commits.Sum(c => c.Sum) * 1000 / Math.Max(1, commits.Sum(c => c.Count));
            double turnsPerCommit = (await Task.WhenAll(https.Select(h => Metric(h, "orleansqueue_store_commits_total")))).Sum() / Math.Max(1, commits.Sum(c => c.Count));
            bool statusCalls = (await Task.WhenAll(https.Select(h => Metric(h, "orleansqueue_status_requests_total")))).Sum() > 0;

            double M(Func<Round, double> f) => Median(rounds.Select(f));
            int overshoot = rounds.Sum(r => r.Direct.Overshoot + r.Forwarded.Overshoot + r.HotDirect.Overshoot + r.HotForwarded.Overshoot + r.SpreadOvershoot);
            var md = new StringBuilder();
            md.AppendLine("## Cluster: three silos over PostgreSQL (fsync and synchronous commit on)");
            md.AppendLine();
            md.AppendLine("Each silo is a process of its own; the clients connect to the resource's owner, or to another silo that forwards");
            md.AppendLine("each message to the owner over its one internal WebSocket per client session.");
            md.AppendLine();
            md.AppendLine("| figure | through the owner | through a forwarding silo | floor | owner ÷ floor |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: |");
            md.AppendLine($"| hand-off p50, ms | {Ms(M(r => r.Direct.P50))} | {Ms(M(r => r.Forwarded.P50))} | {Ms(M(r => r.Ws.P50))} raw WebSocket echo | {M(r => r.Direct.P50 / r.Ws.P50):0.0} |");
            md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Direct.P99))} | {Ms(M(r => r.Forwarded.P99))} | {Ms(M(r => r.Ws.P99))} | {M(r => r.Direct.P99 / r.Ws.P99):0.0} |");
            md.AppendLine($"| hand-off p99.9, ms | {Ms(M(r => r.Direct.P999))} | {Ms(M(r => r.Forwarded.P999))} | {Ms(M(r => r.Ws.P999))} | |");
            md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.HotDirect.PerSecond):N0} | {M(r => r.HotForwarded.PerSecond):N0} | | |");
            md.AppendLine($"| acquire+release cycles/s, {Concurrency} resources spread over the silos, a client on each | {M(r => r.Spread):N0} in all | | | |");
            md.AppendLine($"| mean PostgreSQL commit (one transaction for the turns of every grain pending), ms | {Ms(commitMs)} | | | |");
            md.AppendLine($"| grain turns per PostgreSQL transaction, mean | {turnsPerCommit:N1} | | | |");
            md.AppendLine($"| overshoot; status calls while waiting | {overshoot}; {(statusCalls ? "some" : "0")} | | | |");
            md.AppendLine($"| silo processes' peak resident memory | {string.Join(" / ", silos.Select(s => MiB(s.Memory.Peak)))} | | | |");
            report.Section(md.ToString());
            report.Goal("cluster (3 silos, durable PostgreSQL): overshoot 0 and status calls 0", $"{overshoot} and {(statusCalls ? "some" : "0")}", overshoot == 0 && !statusCalls);
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
            foreach (var http in https)
                http.Dispose();
        }
    }

    private static async Task<int> OwnerAsync(List<HttpClient> https, string resource)
    {
        var listing = await Task.WhenAll(https.Select(h => h.GetStringAsync("metrics")));
        var owners = Enumerable.Range(0, https.Count).Where(i => listing[i].Contains($"orleansqueue_leases{{resource=\"{resource}\"}}", StringComparison.Ordinal)).ToList();
        return owners.Count == 1 ? owners[0] : throw new InvalidOperationException($"{owners.Count} silos host {resource}; expected exactly one.");
    }

    /// <summary>The sum of a metric's samples in the silo's /metrics (0 when absent).</summary>
    private static async Task<double> Metric(HttpClient http, string name) =>
        (await http.GetStringAsync("metrics")).Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static async Task<string> PostgresVersionAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return "PostgreSQL " + connection.PostgreSqlVersion;
    }

    private sealed record Round(Latencies Ws, Latencies Direct, Latencies Forwarded, Throughput HotDirect, Throughput HotForwarded, double Spread, int SpreadOvershoot);
}
