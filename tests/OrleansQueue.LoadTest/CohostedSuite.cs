using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue.Client;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>A silo co-hosted in this process (the load tool's own), the client calling its grains through Orleans:
/// hand-offs and hot cycles beside ConcurrencyLimiter in the same process.</summary>
internal static class CohostedSuite
{
    private const int Concurrency = OrleansRounds.Concurrency;
    private const int Jobs = 900; // below a client's default MaxQueuedPerClient of 1,000

    public static async Task RunAsync(Settings settings, Report report)
    {
        var rounds = new List<OrleansRound>();
        JobRun jobs;
        using (var host = await StartAsync(settings.Store))
        {
            for (int r = 1; r <= settings.Rounds; r++)
            {
                rounds.Add(await OrleansRounds.RunAsync($"co-hosted round {r}/{settings.Rounds}", settings,
                    host.Services.GetRequiredService<OrleansQueueClient>(), host.Services.GetRequiredService<IGrainFactory>(), siloCpu: null, withLimiter: true));
            }
            // Jobs through the grains: the same client enqueues, runs them as a worker of 8 slots and waits for each result.
            var client = host.Services.GetRequiredService<OrleansQueueClient>();
            Progress.Step("co-hosted jobs: a first run to warm the path (not counted)", Jobs);
            await Scenarios.Jobs(client, client, "jobs", Jobs, workers: 8);
            Progress.Step("co-hosted jobs: enqueue, run by a worker, result pushed", Jobs);
            jobs = await Scenarios.Jobs(client, client, "jobs", Jobs, workers: 8);
            await host.StopAsync();
        }
        // The durability's price, in the same run: the same hot cycles with the memory store.
        var memory = new List<double>();
        using (var host = await StartAsync("memory"))
        {
            var client = host.Services.GetRequiredService<OrleansQueueClient>();
            for (int r = 1; r <= settings.Rounds; r++)
            {
                Progress.Step($"co-hosted, memory store, round {r}/{settings.Rounds}: hot cycles");
                memory.Add((await Scenarios.CoordinatorCycles(client, ["hot"], settings.Seconds, Concurrency, Concurrency)).PerSecond);
            }
            await host.StopAsync();
        }

        double M(Func<OrleansRound, double> f) => Median(rounds.Select(f));
        double memoryHot = Median(memory);
        report.Section($"""
            ## Co-hosted silo, client through Orleans ({settings.Store} store)

            The floors run in the same process and rounds: a bare grain (no scheduler, no store) called the same way, and
            `ConcurrencyLimiter`. A hand-off's floor is one call to that grain which pushes to an observer of the caller's.

            {OrleansRounds.Table(rounds)}
            The same hot cycles with the memory store (nothing durable), in the same run: {memoryHot:N0} cycles/s; the
            {settings.Store} store's figure is {M(r => r.Hot.PerSecond) / memoryHot:0.00} of it.

            Jobs through the grains ({Jobs} after as many to warm up; one client enqueues, runs them as a worker of 8 slots
            and waits for each result): {jobs.PerSecond:N0} jobs/s, enqueue → result p50 / p99 {Ms(jobs.EnqueueToResult.P50)} /
            {Ms(jobs.EnqueueToResult.P99)} ms.

            """);
        report.Goal("co-hosted ≥ 40,000 cycles/s on one hot resource, durable store, through the SDK", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 40_000);
        report.Goal("… and ≥ 0.6 × the same run's memory-store figure", $"{M(r => r.Hot.PerSecond) / memoryHot:0.00} × {memoryHot:N0}/s", M(r => r.Hot.PerSecond) / memoryHot >= 0.6);
        report.Goal("co-hosted hand-off p99 ≤ 0.5 ms", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 0.5);
    }

    private static async Task<IHost> StartAsync(string store)
    {
        Progress.Step($"co-hosting a silo ({store})");
        string data = Directory.CreateTempSubdirectory("oq-cohosted-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Store:Provider"] = store,
            ["Silo:Store:Path"] = Path.Combine(data, "silo.db"),
            ["Silo:Clustering:SiloPort"] = "0",
            ["Silo:Clustering:GatewayPort"] = "0",
            ["Silo:Resources:hot:MaxConcurrent"] = Concurrency.ToString(),
            ["Silo:Resources:hot:LeaseTtlMs"] = "60000",
            ["Silo:Resources:handoff:MaxConcurrent"] = "1",
            ["Silo:Resources:handoff:LeaseTtlMs"] = "60000",
            ["Silo:Resources:jobs:MaxConcurrent"] = "8",
        });
        builder.Services.AddOrleansQueueSilo(builder.Configuration, o => o.ClientId = "load");
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
