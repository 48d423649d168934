using System.Text;
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
    private const int Concurrency = 64;

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

        var rounds = new List<Round>();
        for (int r = 1; r <= settings.Rounds; r++)
        {
            string of = $"co-hosted round {r}/{settings.Rounds}";
            Progress.Step($"{of}: bare grain call that pushes to an observer (floor)", settings.Handoffs);
            var push = await OrleansFloors.Pushes(grains, settings.Handoffs);
            Progress.Step($"{of}: hand-offs", settings.Handoffs);
            var handoff = await Scenarios.CoordinatorHandoffs(client, "handoff", settings.Handoffs);
            Progress.Step($"{of}: ConcurrencyLimiter hand-offs (floor)", settings.Handoffs);
            var limiterHandoff = await Scenarios.LimiterHandoffs(settings.Handoffs);
            Progress.Step($"{of}: hot cycles");
            var hot = await Scenarios.CoordinatorCycles(client, ["hot"], settings.Seconds, Concurrency, Concurrency);
            Progress.Step($"{of}: hot cycles straight on the resource's grain (no SDK)");
            var grain = await OrleansFloors.ResourceGrainCycles(grains, "hot", settings.Seconds, Concurrency);
            Progress.Step($"{of}: bare grain calls, two per cycle (floor)");
            var bare = await OrleansFloors.Cycles(grains, settings.Seconds, Concurrency);
            Progress.Step($"{of}: ConcurrencyLimiter cycles (floor)");
            var limiter = await Scenarios.LimiterCycles(settings.Seconds);
            rounds.Add(new Round(push, handoff, limiterHandoff, bare, hot, grain, limiter));
        }
        await host.StopAsync();

        double M(Func<Round, double> f) => Median(rounds.Select(f));
        var md = new StringBuilder();
        md.AppendLine($"## Co-hosted silo, client through Orleans ({settings.Store} store)");
        md.AppendLine();
        md.AppendLine("The floors run in the same process and rounds: a bare grain (no scheduler, no store) called the same way, and");
        md.AppendLine("`ConcurrencyLimiter`. A hand-off's floor is one call to that grain which pushes to an observer of the caller's.");
        md.AppendLine();
        md.AppendLine("| figure | coordinator | floor | coordinator ÷ floor |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        md.AppendLine($"| hand-off p50, ms (a release → the next waiter's code runs) | {Ms(M(r => r.Handoff.P50))} | {Ms(M(r => r.Push.P50))} bare call + observer push | {M(r => r.Handoff.P50 / r.Push.P50):0.0} |");
        md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Handoff.P99))} | {Ms(M(r => r.Push.P99))} | {M(r => r.Handoff.P99 / r.Push.P99):0.0} |");
        md.AppendLine($"| hand-off p50 / p99, ms, vs. ConcurrencyLimiter | | {Ms(M(r => r.LimiterHandoff.P50))} / {Ms(M(r => r.LimiterHandoff.P99))} | {M(r => r.Handoff.P50 / r.LimiterHandoff.P50):0} (p50) |");
        md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.Hot.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} pairs of bare grain calls | {M(r => r.Hot.PerSecond / r.Bare.PerSecond):0.00} |");
        md.AppendLine($"| … vs. ConcurrencyLimiter | | {M(r => r.Limiter.PerSecond):N0} | {M(r => r.Hot.PerSecond / r.Limiter.PerSecond):0.0000} |");
        md.AppendLine($"| the same cycles straight on `IResourceGrain`, no SDK (no lease object, renewal or JSON) | {M(r => r.Grain.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} | {M(r => r.Grain.PerSecond / r.Bare.PerSecond):0.00} |");
        md.AppendLine($"| overshoot (holders above the limit seen in process) | {rounds.Sum(r => r.Handoff.Overshoot + r.Hot.Overshoot)} | | |");
        report.Section(md.ToString());
        report.Goal("co-hosted ≥ 100,000 cycles/s on one hot resource", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 100_000);
        report.Goal("co-hosted hand-off p99 ≤ 0.5 ms", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 0.5);
    }

    private sealed record Round(Latencies Push, Latencies Handoff, Latencies LimiterHandoff, Throughput Bare, Throughput Hot, Throughput Grain, Throughput Limiter);
}
