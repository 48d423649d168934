using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// The store itself crashed under load and started again on its data (a server of this test's own, durable): every grant,
/// ticket and job the silo acknowledged is there afterwards, no fencing token is granted twice, and the silo serves
/// again once its store is back.
/// </summary>
public abstract class StoreRestartTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    protected readonly TempDirectory Folder = new("oq-store-restart-");

    public virtual void Dispose() => Folder.Dispose();

    /// <summary>Starts the store; the silo's settings for it.</summary>
    protected abstract Task<string[]> StartStoreAsync();

    /// <summary>Crashes the store (no clean shutdown) and starts it again on the same data and port.</summary>
    protected abstract Task CrashAndRestartStoreAsync();

    protected abstract Task StopStoreAsync();

    [StoreFact]
    public async Task EveryAcknowledgedGrantTicketAndJobSurvivesTheStoreKilledAndRestarted()
    {
        var store = await StartStoreAsync();
        try
        {
            await using var silo = await SiloProcess.StartAsync(Folder.Path, null, store);
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
            // Each call carries an idempotency key and is repeated while the silo answers 503, as the SDKs do: an acquire or
            // a release whose commit landed as the store died (its answer lost) is answered again, not left holding a slot.
            var load = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
            {
                using var client = silo.CreateClient();
                for (int n = 0; !stop.IsCancellationRequested; n++)
                {
                    var (status, body) = await client.Post("v1/resources/busy/acquire", $$"""{"clientId":"w{{i}}","maxWaitMs":0,"idempotencyKey":"a{{n}}"}""");
                    while (status == HttpStatusCode.ServiceUnavailable)
                    {
                        await Task.Delay(50); // the silo gives no event when its store is back: its answers are the witness
                        (status, body) = await client.Post("v1/resources/busy/acquire", $$"""{"clientId":"w{{i}}","maxWaitMs":0,"idempotencyKey":"a{{n}}"}""");
                    }
                    if (status != HttpStatusCode.OK)
                        continue; // refused: no slot free now
                    if (!granted.TryAdd(body.GetProperty("fencingToken").GetInt64(), 0))
                        Interlocked.Increment(ref twice);
                    string release = $"v1/resources/busy/requests/{body.GetProperty("id").GetInt64()}/release";
                    while ((await client.Post(release, $$"""{"idempotencyKey":"r{{n}}"}""")).Status == HttpStatusCode.ServiceUnavailable)
                        await Task.Delay(50);
                }
            })).ToList();
            await WaitUntilAsync(() => Task.FromResult(granted.Count >= 20));

            int before = granted.Count;
            await CrashAndRestartStoreAsync();
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
            await StopStoreAsync();
        }
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
            await Task.Delay(100); // the silo gives no event when its store is back: its answers are the witness
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

/// <summary>Redis killed with SIGKILL (only what was fsynced to its append-only file is left) and started again.</summary>
public sealed class RedisStoreRestartTests : StoreRestartTests, INeedsRedis
{
    private readonly int _port = PostgresServer.FreePort();
    private Process? _redis;

    protected override Task<string[]> StartStoreAsync()
    {
        _redis = StartRedis();
        return Task.FromResult<string[]>(["--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", $"127.0.0.1:{_port}"]);
    }

    protected override async Task CrashAndRestartStoreAsync()
    {
        _redis!.Kill();
        await _redis.WaitForExitAsync();
        _redis = StartRedis();
    }

    protected override Task StopStoreAsync()
    {
        if (_redis is { HasExited: false })
            _redis.Kill();
        return Task.CompletedTask;
    }

    /// <summary>A redis-server of this test's own over the test's folder (a restart reads the same append-only file),
    /// fsyncing every write.</summary>
    private Process StartRedis()
    {
        var start = new ProcessStartInfo("redis-server",
            ["--port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Folder.Path,
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
}

/// <summary>PostgreSQL of this test's own, durable, stopped with <c>pg_ctl stop -m immediate</c> and started again (it
/// recovers from its WAL).</summary>
public sealed class PostgresStoreRestartTests : StoreRestartTests, INeedsPostgres
{
    private PostgresInstance? _postgres;

    protected override async Task<string[]> StartStoreAsync()
    {
        _postgres = await PostgresInstance.StartAsync();
        return ["--Silo:Store:Provider", "postgres", "--Silo:Store:ConnectionString", _postgres.ConnectionString];
    }

    protected override async Task CrashAndRestartStoreAsync()
    {
        await _postgres!.CrashAsync();
        await _postgres.StartAgainAsync();
    }

    protected override async Task StopStoreAsync()
    {
        if (_postgres is not null)
            await _postgres.DisposeAsync();
    }
}
