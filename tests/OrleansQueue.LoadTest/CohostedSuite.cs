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

    public static async Task RunAsync(Settings settings, Report report)
    {
        Progress.Step($"co-hosting a silo ({settings.Store})");
        string data = Directory.CreateTempSubdirectory("oq-cohosted-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Store:Provider"] = settings.Store,
            ["Silo:Store:Path"] = Path.Combine(data, "silo.db"),
            ["Silo:Clustering:SiloPort"] = "0",
            ["Silo:Clustering:GatewayPort"] = "0",
            ["Silo:Resources:hot:MaxConcurrent"] = Concurrency.ToString(),
            ["Silo:Resources:hot:LeaseTtlMs"] = "60000",
            ["Silo:Resources:handoff:MaxConcurrent"] = "1",
            ["Silo:Resources:handoff:LeaseTtlMs"] = "60000",
        });
        builder.Services.AddOrleansQueueSilo(builder.Configuration, o => o.ClientId = "load");
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<OrleansQueueClient>();
        var grains = host.Services.GetRequiredService<IGrainFactory>();

        var rounds = new List<OrleansRound>();
        for (int r = 1; r <= settings.Rounds; r++)
            rounds.Add(await OrleansRounds.RunAsync($"co-hosted round {r}/{settings.Rounds}", settings, client, grains, siloCpu: null, withLimiter: true));
        await host.StopAsync();

        double M(Func<OrleansRound, double> f) => Median(rounds.Select(f));
        report.Section($"""
            ## Co-hosted silo, client through Orleans ({settings.Store} store)

            The floors run in the same process and rounds: a bare grain (no scheduler, no store) called the same way, and
            `ConcurrencyLimiter`. A hand-off's floor is one call to that grain which pushes to an observer of the caller's.

            {OrleansRounds.Table(rounds)}
            """);
        report.Goal("co-hosted ≥ 100,000 cycles/s on one hot resource", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 100_000);
        report.Goal("co-hosted hand-off p99 ≤ 0.5 ms", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 0.5);
    }
}
