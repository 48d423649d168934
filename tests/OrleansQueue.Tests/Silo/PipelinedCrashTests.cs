using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// A hot resource at full speed, its grain's batches pipelined into the store, its silo killed with SIGKILL at seeded random
/// moments and restarted on the same store, again and again: every acknowledged lease and ticket is back, no fencing token
/// is issued twice, never more leases than the limit, no rate window over its budget, and the restarted silo restores what
/// it finds (the change log it folds). The log is folded every few batches, so kills land during compactions too. Run
/// on every store.
/// </summary>
public abstract class PipelinedCrashTests : IDisposable
{
    private const int MaxConcurrent = 8;
    // Leases and unclaimed grants outlive the test: whatever a killed caller held is still held after the restart. The rate
    // window is longer than a restart, so spending lost with a kill would show as a window over its budget.
    private const int RequestsPerWindow = 150;
    private const int WindowMs = 5_000;
    private static readonly string Policy =
        $$"""{"maxConcurrent":8,"claimWindowMs":600000,"leaseTtlMs":600000,"defaultMaxWaitMs":600000,"requestsPerWindow":{{RequestsPerWindow}},"windowMs":{{WindowMs}}}""";

    private readonly TempDirectory _folder = new("oq-pipelined-crash-");
    private readonly ConcurrentDictionary<long, long> _held = new(); // acknowledged as held and not released: id -> token
    private readonly ConcurrentDictionary<long, byte> _waiting = new(); // acknowledged as waiting
    private readonly ConcurrentDictionary<long, long> _tokens = new(); // every fencing token seen -> its request
    private readonly ConcurrentBag<DateTimeOffset> _grantedAt = []; // every grant seen, on the silo's clock
    private readonly ConcurrentDictionary<long, byte> _releasing = new(); // a release sent, its answer lost with the process
    private readonly ConcurrentDictionary<string, string> _acquiring = new(); // an acquire sent, not answered: its key -> its client
    private long _maxTokenBeforeRound;
    // Unique per run: the server stores are shared by the whole test run.
    private readonly string _resource = $"v1/resources/hot-{Guid.NewGuid():N}";

    /// <summary>The store settings the silo gets (none: SQLite in the data folder).</summary>
    protected virtual Task<string[]> StoreAsync() => Task.FromResult<string[]>([]);

    /// <summary>Every store's log folded every four batches: a kill lands during a compaction as often as not.</summary>
    private async Task<string[]> SettingsAsync() => ["--Silo:Store:CompactAfter", "4", .. await StoreAsync()];

    public void Dispose() => _folder.Dispose();

    [Cluster.StoreFact]
    public async Task KilledAtRandomMomentsEveryAcknowledgedLeaseAndTicketComesBackAndNoTokenRepeats()
    {
        var random = new Random(20261207);
        string[] store = await SettingsAsync();
        for (int round = 0; round < 5; round++)
        {
            await using var silo = await SiloProcess.StartAsync(_folder.Path, null, store);
            using var http = silo.CreateClient();
            if (round == 0)
                Assert.Equal(HttpStatusCode.Created, (await http.Put(_resource, Policy)).Status);
            else
                await CheckEverythingAcknowledgedCameBackAsync(http, silo);

            _maxTokenBeforeRound = _tokens.IsEmpty ? 0 : _tokens.Keys.Max();
            using var load = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 24).Select(i => Worker(silo, $"w{round}-{i}", load.Token)).ToList();
            int granted = _tokens.Count;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (_tokens.Count < granted + 50 && !workers.Any(w => w.IsCompleted))
            {
                if (DateTime.UtcNow > deadline)
                    Assert.Fail($"round {round}: {_tokens.Count - granted} grants in 60 s; the resource: {(await http.Get($"{_resource}/stats")).Body}\n{silo.Log}");
                await Task.Delay(20);
            }
            if (workers.FirstOrDefault(w => w.IsCompleted) is { } stopped)
            {
                await stopped; // its failure, if it failed
                Assert.Fail($"a caller stopped in round {round} before the kill:\n{silo.Log}");
            }
            await Task.Delay(random.Next(0, 400)); // the seeded moment, within the load at full speed
            await silo.KillAsync();
            await load.CancelAsync();
            await Task.WhenAll(workers);
        }
        await using (var last = await SiloProcess.StartAsync(_folder.Path, null, store))
        {
            using var http = last.CreateClient();
            await CheckEverythingAcknowledgedCameBackAsync(http, last);
        }
        // No window held more than its budget, across the kills (by the silos' own grant times: one machine, one clock).
        var times = _grantedAt.Order().ToList();
        for (int i = 0; i < times.Count; i++)
        {
            int inWindow = times.Skip(i).TakeWhile(t => t - times[i] < TimeSpan.FromMilliseconds(WindowMs)).Count();
            Assert.True(inWindow <= RequestsPerWindow, $"{inWindow} grants in the window from {times[i]:O}");
        }
    }

    private async Task CheckEverythingAcknowledgedCameBackAsync(HttpClient http, SiloProcess silo)
    {
        foreach (var (id, token) in _held)
        {
            var (status, body) = await http.Get($"{_resource}/requests/{id}");
            Assert.True(status == HttpStatusCode.OK && body.State() == "held" && body.GetProperty("fencingToken").GetInt64() == token,
                $"lease {id} (token {token}) after the restart: {status} {body}\n{silo.Log}");
        }
        foreach (long id in _waiting.Keys)
        {
            var (status, body) = await http.Get($"{_resource}/requests/{id}");
            Assert.True(status == HttpStatusCode.OK && body.State() is "waiting" or "held" or "granted",
                $"ticket {id} after the restart: {status} {body}\n{silo.Log}");
        }
        var stats = (await http.Get($"{_resource}/stats")).Body;
        Assert.True(stats.GetProperty("leases").GetInt64() <= MaxConcurrent, $"more leases than the limit: {stats}");
        // The dead callers' leases and tickets end now, as callers that come back would end them; a release that was on its
        // way may have landed.
        foreach (long id in _held.Keys.Concat(_waiting.Keys))
            Assert.Equal(HttpStatusCode.OK, (await http.Delete($"{_resource}/requests/{id}")).Status);
        foreach (long id in _releasing.Keys)
        {
            var status = (await http.Delete($"{_resource}/requests/{id}")).Status;
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.Gone, $"ending lease {id}, released or not: {status}");
        }
        // An acquire whose answer was lost with the process may have landed: the same key answers the same request (or
        // makes one, if it never landed), which ends too. Left, such tickets would take the budget for the claim window.
        foreach (var (key, client) in _acquiring)
        {
            var (status, body) = await http.Post($"{_resource}/acquire", $$"""{"clientId":"{{client}}","idempotencyKey":"{{key}}"}""");
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"acquire {key} asked again: {status} {body}");
            Assert.Equal(HttpStatusCode.OK, (await http.Delete($"{_resource}/requests/{body.GetProperty("id").GetInt64()}")).Status);
        }
        _held.Clear();
        _waiting.Clear();
        _releasing.Clear();
        _acquiring.Clear();
    }

    /// <summary>Acquire, wait by long-poll if queued, release at once; until cancelled or the silo dies.</summary>
    private async Task Worker(SiloProcess silo, string client, CancellationToken stop)
    {
        using var http = silo.CreateClient();
        int acquires = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                string key = $"{client}-{++acquires}";
                _acquiring[key] = client;
                var (status, body) = await http.Post($"{_resource}/acquire", $$"""{"clientId":"{{client}}","idempotencyKey":"{{key}}"}""");
                if (status is not (HttpStatusCode.OK or HttpStatusCode.Accepted))
                    throw new InvalidOperationException($"acquire answered {status} {body}");
                long id = body.GetProperty("id").GetInt64();
                _waiting[id] = 0;
                _acquiring.TryRemove(key, out _);
                while (body.State() == "waiting")
                    (_, body) = await http.Get($"{_resource}/requests/{id}/wait?timeoutMs=1000");
                Assert.Equal("held", body.State());
                long token = body.GetProperty("fencingToken").GetInt64();
                Assert.True(_tokens.TryAdd(token, id), $"fencing token {token} granted twice");
                Assert.True(token > _maxTokenBeforeRound, $"fencing token {token} issued after a restart is not above {_maxTokenBeforeRound}, the last before it");
                _grantedAt.Add(body.GetProperty("grantedAt").GetDateTimeOffset());
                _held[id] = token;
                _waiting.TryRemove(id, out _);
                _held.TryRemove(id, out _); // on its way: whether it landed is not known until its answer
                _releasing[id] = 0;
                (status, body) = await http.Post($"{_resource}/requests/{id}/release");
                Assert.Equal(HttpStatusCode.OK, status);
                _releasing.TryRemove(id, out _);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            // The silo was killed under us.
        }
    }
}

public sealed class SqlitePipelinedCrashTests : PipelinedCrashTests;

public sealed class RedisPipelinedCrashTests : PipelinedCrashTests, Cluster.INeedsRedis
{
    protected override async Task<string[]> StoreAsync() => ["--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", await Cluster.RedisServer.AddressAsync()];
}

public sealed class PostgresPipelinedCrashTests : PipelinedCrashTests, Cluster.INeedsPostgres
{
    protected override async Task<string[]> StoreAsync() =>
        ["--Silo:Store:Provider", "postgres", "--Silo:Store:ConnectionString", await Cluster.PostgresServer.CreateDatabaseAsync()];
}
