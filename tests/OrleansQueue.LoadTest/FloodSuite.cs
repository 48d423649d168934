using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using OrleansQueue.Client;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>
/// One tenant floods a silo (WebSocket sessions that send large attach messages and never read a reply) while another
/// tenant's client acquires and releases on a resource of its own: that client's cycle latency before and during the
/// flood, and how many flooding sessions the silo closed for not reading.
/// </summary>
internal static class FloodSuite
{
    private const string AdminKey = "load-admin-key-0123456789", FlooderKey = "load-flooder-key-0123456789", VictimKey = "load-victim-key-0123456789";
    private const int FloodSessions = 8;

    public static async Task RunAsync(Settings settings, Report report)
    {
        Progress.Step("flood: starting a silo with three API keys");
        string data = Directory.CreateTempSubdirectory("oq-flood-").FullName;
        await using var silo = await SiloProcess.StartAsync("--urls", "http://127.0.0.1:0", "--Silo:Store:Path", Path.Combine(data, "silo.db"),
            "--Silo:ApiKeys:0:Key", AdminKey, "--Silo:ApiKeys:0:Tenant", "ops", "--Silo:ApiKeys:0:Admin", "true",
            "--Silo:ApiKeys:1:Key", FlooderKey, "--Silo:ApiKeys:1:Tenant", "flooder",
            "--Silo:ApiKeys:2:Key", VictimKey, "--Silo:ApiKeys:2:Tenant", "victim");
        using var admin = new HttpClient { BaseAddress = silo.Address };
        admin.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
        await MainSuite.Put(admin, "victim", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        await MainSuite.Put(admin, "flood", """{"maxConcurrent":1}""");
        await using var victim = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.Address, ApiKey = VictimKey, ClientId = "victim" });

        Progress.Step("flood: the other tenant's cycles, quiet", settings.Handoffs);
        var quiet = await CyclesAsync(victim, settings.Handoffs);
        Progress.Step($"flood: the other tenant's cycles while {FloodSessions} sessions flood", settings.Handoffs);
        // The flooders run in a process of their own, so that the victim's figures are the silo's, not this process's.
        Latencies flooded;
        await using (await SiloProcess.StartChildAsync("--flood", silo.Address.ToString()))
            flooded = await CyclesAsync(victim, settings.Handoffs);
        string metrics = await admin.GetStringAsync("metrics");
        double closed = metrics.Split('\n').Where(l => l.StartsWith("orleansqueue_sessions_closed_unread_total", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

        report.Section($"""
            ## One tenant floods, another is served

            {FloodSessions} WebSocket sessions of one tenant (in a process of their own) send attach messages of 1,000 ids each and
            never read their replies, and each opens another session when the silo closes one, until the measurement ends;
            meanwhile a client of another tenant acquires and releases on its own resource, one cycle at a time (the quiet
            figures are the same client just before). SQLite store, default limits (`Silo:MaxSessionOutboxBytes` 4 MiB).

            | figure | quiet | during the flood | flood ÷ quiet |
            | --- | ---: | ---: | ---: |
            | the other tenant's acquire+release p50, ms | {Ms(quiet.P50)} | {Ms(flooded.P50)} | {flooded.P50 / quiet.P50:0.0} |
            | … p99, ms | {Ms(quiet.P99)} | {Ms(flooded.P99)} | {flooded.P99 / quiet.P99:0.0} |
            | flooding sessions the silo closed (1008) for not reading | | {closed:0} | |
            | silo process peak resident memory | | {MiB(silo.Memory.Peak)} | |
            """);
    }

    private static async Task<Latencies> CyclesAsync(OrleansQueueClient client, int n)
    {
        var samples = new List<double>(n);
        for (int i = 0; i < n; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await (await client.AcquireAsync("victim")).DisposeAsync();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            Progress.Advance();
        }
        return Latencies.Of(samples);
    }

    /// <summary>The flooders' process: says it is ready, then floods until it is killed.</summary>
    public static async Task FloodUntilKilledAsync(Uri silo)
    {
        Console.WriteLine($"listening {silo}");
        await Task.WhenAll(Enumerable.Range(0, FloodSessions).Select(_ => FloodAsync(silo, CancellationToken.None)));
    }

    /// <summary>Sends without reading until told to stop; when the silo closes the session, opens another and goes on (as
    /// an attacker would). The messages sent.</summary>
    private static async Task<long> FloodAsync(Uri silo, CancellationToken stop)
    {
        var attach = Encoding.UTF8.GetBytes($$"""{"op":"attach","corr":1,"resource":"flood","ids":[{{string.Join(",", Enumerable.Range(1, 1000))}}]}""");
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            using var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("X-Api-Key", FlooderKey);
            try
            {
                await socket.ConnectAsync(new Uri(silo.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "v1/ws"), stop);
                while (!stop.IsCancellationRequested)
                {
                    await socket.SendAsync(attach, WebSocketMessageType.Text, true, stop);
                    sent++;
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // closed by the silo (then again), or the run is over
            }
            socket.Abort();
        }
        return sent;
    }
}
