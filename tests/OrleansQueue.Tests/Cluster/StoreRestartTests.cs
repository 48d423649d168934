using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// The store itself killed with SIGKILL under load and restarted from its append-only file (a redis-server of this test's
/// own, fsyncing every write): every grant, ticket and job the silo acknowledged is there afterwards, no fencing token is
/// granted twice, and the silo serves again once its store is back.
/// </summary>
public sealed class StoreRestartTests : INeedsRedis, IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _folder = new("oq-store-restart-");

    public void Dispose() => _folder.Dispose();

    [StoreFact]
    public async Task EveryAcknowledgedGrantTicketAndJobSurvivesTheStoreKilledAndRestarted()
    {
        int port = PostgresServer.FreePort();
        var redis = StartRedis(port);
        try
        {
            await using var silo = await SiloProcess.StartAsync(_folder.Path, null, "--Silo:Store:Provider", "redis",
                "--Silo:Store:ConnectionString", $"127.0.0.1:{port}");
            using var http = silo.CreateClient();
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/durable", """{"maxConcurrent":2,"defaultMaxWaitMs":600000,"leaseTtlMs":600000}""")).Status);
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/busy", """{"maxConcurrent":4,"leaseTtlMs":600000}""")).Status);
            // Acknowledged before the kill: two leases, three tickets behind them, a job.
            var leases = new List<(long Id, long Token)>();
            for (int i = 0; i < 2; i++)
            {
                var (_, lease) = await http.Post("v1/resources/durable/acquire", $$"""{"clientId":"l{{i}}"}""");
                leases.Add((lease.GetProperty("id").GetInt64(), lease.GetProperty("fencingToken").GetInt64()));
            }
            var tickets = new List<long>();
            for (int i = 0; i < 3; i++)
                tickets.Add(await http.Acquire("durable", $$"""{"clientId":"t{{i}}"}""", "waiting"));
            var (_, job) = await http.Post("v1/resources/durable/jobs", """{"payload":{"n":1}}""");
            long jobId = job.GetProperty("id").GetInt64();

            // Load on another resource while the store dies: every grant it acknowledges is recorded.
            var granted = new ConcurrentDictionary<long, byte>();
            int twice = 0;
            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
            {
                using var client = silo.CreateClient();
                while (!stop.IsCancellationRequested)
                {
                    var (status, body) = await client.Post("v1/resources/busy/acquire", $$"""{"clientId":"w{{i}}","maxWaitMs":0}""");
                    if (status != HttpStatusCode.OK)
                        continue; // refused while the store is away: typed, retried
                    if (!granted.TryAdd(body.GetProperty("fencingToken").GetInt64(), 0))
                        Interlocked.Increment(ref twice);
                    await client.Post($"v1/resources/busy/requests/{body.GetProperty("id").GetInt64()}/release");
                }
            })).ToList();
            await WaitUntilAsync(() => Task.FromResult(granted.Count >= 20));

            redis.Kill(); // SIGKILL: only what was fsynced to the append-only file is left
            await redis.WaitForExitAsync();
            int before = granted.Count;
            redis = StartRedis(port);
            await WaitUntilAsync(() => Task.FromResult(granted.Count >= before + 20)); // served again
            await stop.CancelAsync();
            await Task.WhenAll(load);

            foreach (var (id, token) in leases)
            {
                var (_, lease) = await GetUntilServedAsync(http, $"v1/resources/durable/requests/{id}");
                Assert.Equal(("held", token), (lease.State(), lease.GetProperty("fencingToken").GetInt64()));
            }
            var positions = new List<int>();
            foreach (long id in tickets)
            {
                var (_, ticket) = await GetUntilServedAsync(http, $"v1/resources/durable/requests/{id}");
                Assert.Equal("waiting", ticket.State());
                positions.Add(ticket.GetProperty("position").GetInt32());
            }
            Assert.Equal(positions.Order(), positions); // still in the order they came
            Assert.Equal("queued", (await GetUntilServedAsync(http, $"v1/resources/durable/jobs/{jobId}")).Body.GetProperty("state").GetString());
            Assert.Equal(0, twice);
        }
        finally
        {
            if (!redis.HasExited)
                redis.Kill();
        }
    }

    /// <summary>A redis-server of this test's own, on <paramref name="port"/>, over this test's folder (so a restart
    /// reads the same append-only file), fsyncing every write.</summary>
    private Process StartRedis(int port)
    {
        var start = new ProcessStartInfo("redis-server",
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _folder.Path,
                "--appendonly", "yes", "--appendfsync", "always", "--save", ""])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Reads until the silo answers (it may still be reconnecting to its store, or reactivating the resource).</summary>
    private static async Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> GetUntilServedAsync(HttpClient http, string path)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (true)
        {
            var answer = await http.Get(path);
            if (answer.Status != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline)
                return answer;
            await Task.Delay(100);
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(50);
        }
    }
}
