using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue.Client;
using OrleansQueue.Tests.Cluster;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>
/// A silo in a process of its own with the durable SQLite store, and in this process an external Orleans client of it
/// (<c>UseOrleansClient</c> through the silo's Orleans gateway) with <see cref="OrleansQueueClient"/> on top: the transport
/// of an application that runs an Orleans client of the cluster. Its floors are the same grain calls and pushes made to
/// a bare grain in that silo, over the same client.
/// </summary>
internal static class ExternalSuite
{
    private const int Concurrency = 64;

    public static async Task RunAsync(Settings settings, Report report)
    {
        Progress.Step($"external Orleans client: starting a silo ({settings.Store})");
        string data = Directory.CreateTempSubdirectory("oq-external-").FullName;
        int gateway = PostgresServer.FreePort();
        await using var silo = await SiloProcess.StartAsync("--urls", "http://127.0.0.1:0", "--Silo:Store:Provider", settings.Store,
            "--Silo:Store:Path", Path.Combine(data, "silo.db"), "--Silo:Clustering:SiloPort", "0",
            "--Silo:Clustering:GatewayPort", gateway.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using (var http = new HttpClient { BaseAddress = silo.Address })
        {
            await MainSuite.Put(http, "hot", $$"""{"maxConcurrent":{{Concurrency}},"leaseTtlMs":60000}""");
            await MainSuite.Put(http, "handoff", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(c => c
            .UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gateway))
            .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("orleansqueue", "orleansqueue")));
        builder.Services.AddOrleansQueueClient(o => o.ClientId = "load");
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<OrleansQueueClient>();
        var grains = host.Services.GetRequiredService<IGrainFactory>();

        var rounds = new List<Round>();
        for (int r = 1; r <= settings.Rounds; r++)
        {
            string of = $"external client round {r}/{settings.Rounds}";
            Progress.Step($"{of}: bare grain call that pushes to an observer (floor)", settings.Handoffs);
            var push = await OrleansFloors.Pushes(grains, settings.Handoffs);
            Progress.Step($"{of}: hand-offs", settings.Handoffs);
            var handoff = await Scenarios.CoordinatorHandoffs(client, "handoff", settings.Handoffs);
            Progress.Step($"{of}: hot cycles");
            var cpu = silo.CpuTime;
            var hot = await Scenarios.CoordinatorCycles(client, ["hot"], settings.Seconds, Concurrency, Concurrency);
            double siloCpuPerCycle = (silo.CpuTime - cpu).TotalMicroseconds / (hot.PerSecond * settings.Seconds);
            Progress.Step($"{of}: hot cycles straight on the resource's grain (no SDK)");
            var grain = await OrleansFloors.ResourceGrainCycles(grains, "hot", settings.Seconds, Concurrency);
            Progress.Step($"{of}: bare grain calls, two per cycle (floor)");
            var bare = await OrleansFloors.Cycles(grains, settings.Seconds, Concurrency);
            rounds.Add(new Round(push, handoff, bare, hot, grain, siloCpuPerCycle));
        }
        await host.StopAsync();

        double M(Func<Round, double> f) => Median(rounds.Select(f));
        var md = new StringBuilder();
        md.AppendLine($"## External Orleans client, one silo process ({settings.Store} store)");
        md.AppendLine();
        md.AppendLine("The load runs an Orleans client (`UseOrleansClient`, static clustering to the silo's Orleans gateway) and");
        md.AppendLine("`OrleansQueueClient` on it. The floors are a bare grain in the same silo (no scheduler, no store), over the same client.");
        md.AppendLine();
        md.AppendLine("| figure | coordinator | floor | coordinator ÷ floor |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        md.AppendLine($"| hand-off p50, ms (a release → the next waiter's code runs) | {Ms(M(r => r.Handoff.P50))} | {Ms(M(r => r.Push.P50))} bare call + observer push | {M(r => r.Handoff.P50 / r.Push.P50):0.0} |");
        md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Handoff.P99))} | {Ms(M(r => r.Push.P99))} | {M(r => r.Handoff.P99 / r.Push.P99):0.0} |");
        md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.Hot.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} pairs of bare grain calls | {M(r => r.Hot.PerSecond / r.Bare.PerSecond):0.00} |");
        md.AppendLine($"| the same cycles straight on `IResourceGrain`, no SDK | {M(r => r.Grain.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} | {M(r => r.Grain.PerSecond / r.Bare.PerSecond):0.00} |");
        md.AppendLine($"| silo CPU per hot cycle, µs | {M(r => r.SiloCpuPerCycle):0} | | |");
        md.AppendLine($"| overshoot (holders above the limit seen in process) | {rounds.Sum(r => r.Handoff.Overshoot + r.Hot.Overshoot)} | | |");
        report.Section(md.ToString());
        report.Goal("external Orleans client ≥ 50,000 cycles/s on one hot resource", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 50_000);
        report.Goal("external Orleans client hand-off p99 ≤ 1 ms", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 1);
    }

    private sealed record Round(Latencies Push, Latencies Handoff, Throughput Bare, Throughput Hot, Throughput Grain, double SiloCpuPerCycle);
}
