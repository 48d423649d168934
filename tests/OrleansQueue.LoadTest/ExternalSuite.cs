using System.Net;
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
    private const int Concurrency = OrleansRounds.Concurrency;

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

        var rounds = new List<OrleansRound>();
        for (int r = 1; r <= settings.Rounds; r++)
            rounds.Add(await OrleansRounds.RunAsync($"external client round {r}/{settings.Rounds}", settings, client, grains, () => silo.CpuTime, withLimiter: false));
        await host.StopAsync();

        double M(Func<OrleansRound, double> f) => Median(rounds.Select(f));
        report.Section($"""
            ## External Orleans client, one silo process ({settings.Store} store)

            The load runs an Orleans client (`UseOrleansClient`, static clustering to the silo's Orleans gateway) and
            `OrleansQueueClient` on it. The floors are a bare grain in the same silo (no scheduler, no store), over the same client.

            {OrleansRounds.Table(rounds)}
            """);
        report.Goal("external Orleans client ≥ 25,000 cycles/s on one hot resource", $"{M(r => r.Hot.PerSecond):N0}/s", M(r => r.Hot.PerSecond) >= 25_000);
        report.Goal("external Orleans client hand-off p99 ≤ 1.5 ms", $"{Ms(M(r => r.Handoff.P99))} ms", M(r => r.Handoff.P99) <= 1.5);
    }
}
