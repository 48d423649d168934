using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansQueue.Tests.Silo;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// Three silo processes on Redis clustering and the Redis store. Clients acquire, long-poll and release one resource with
/// idempotency keys, each call through the next silo and, when a silo times out or answers 503, again through another.
/// The silo the resource is active on is cut off from everything while it keeps running: its store and membership
/// (Redis), the silos that connect to it and the connections it opened to them. Then the partition heals. Whatever the
/// clients are told, during and after, comes from the resource's owner or is a retryable 503: no acknowledged ticket or
/// lease is ever called unknown, every ticket ends as its client was told (released, none left behind), and no fencing
/// token is issued twice.
/// </summary>
[Collection(nameof(ProcessChaosTests))]
public sealed class PartitionTests(ITestOutputHelper output) : IAsyncLifetime, INeedsRedis
{
    private const string Resource = "split";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _data = new("oq-partition-");
    private readonly List<SiloProcess> _silos = [];
    private readonly List<FaultProxy> _proxies = [];
    private readonly List<HttpClient> _http = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<long, string> _tickets = new(); // acknowledged ticket -> what its client was last told
    private readonly ConcurrentBag<long> _fencingTokens = [];
    private readonly ConcurrentDictionary<string, int> _retried = new();
    private readonly ConcurrentQueue<string> _calls = new(); // every call's answer, shown when the contract broke
    private int _grants;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var http in _http)
            http.Dispose();
        foreach (var (silo, i) in _silos.Select((s, i) => (s, i)))
        {
            foreach (string line in silo.Log.Split("\n").Where(l => new[] { "dead", "moved", "epoch", "refused", "declared", "suspect", "fail:" }.Any(w => l.Contains(w, StringComparison.OrdinalIgnoreCase))).Take(60))
                output.WriteLine($"silo {i}: {line.Trim()}");
            await silo.DisposeAsync();
        }
        foreach (var proxy in _proxies)
            await proxy.DisposeAsync();
        _data.Dispose();
    }

    [StoreFact]
    public async Task NoAcknowledgedRequestIsCalledUnknownWhileTheOwnersSiloIsCutOffAndAfterItHeals()
    {
        string redis = await RedisServer.AddressAsync();
        string cluster = $"partition-{Guid.NewGuid():N}";
        // The silo to be cut reaches Redis through a proxy of its own; every silo is reached by its peers through one.
        var redisOfCut = Track(new FaultProxy(redis));
        var inbound = new List<FaultProxy>();
        for (int i = 0; i < 3; i++)
        {
            int listen = PostgresServer.FreePort();
            var proxy = Track(new FaultProxy($"127.0.0.1:{listen}"));
            inbound.Add(proxy);
            string reach = i == 0 ? redisOfCut.Address : redis;
            string folder = Path.Combine(_data.Path, $"silo-{i}");
            Directory.CreateDirectory(folder);
            _silos.Add(await SiloProcess.StartAsync(folder, null,
                "--Silo:Clustering:Provider", "redis", "--Silo:Clustering:ConnectionString", reach, "--Silo:Clustering:ClusterId", cluster,
                "--Silo:Clustering:SiloPort", ProxyPort(proxy), "--Silo:Clustering:ListenPort", listen.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--Silo:Clustering:GatewayPort", "0", "--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", reach,
                "--Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss.fff "));
            _http.Add(new HttpClient { BaseAddress = _silos[i].BaseAddress, Timeout = Timeout.InfiniteTimeSpan });
        }
        // Created through silo 0, the resource is active there (a resource is activated where it is first called).
        var created = await _http[0].PutAsJsonAsync($"/v1/resources/{Resource}",
            new { maxConcurrent = 2, leaseTtlMs = 120_000, claimWindowMs = 120_000, defaultMaxWaitMs = 120_000 });
        created.EnsureSuccessStatusCode();
        string owner = (await _http[0].GetFromJsonAsync<JsonElement>($"/v1/resources/{Resource}/stats")).GetProperty("silo").GetString()!;
        output.WriteLine($"{Resource} is active on {owner}");

        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, 12).Select(i => Task.Run(() => ClientLoopAsync(i, stop.Token))).ToList();

        await GrantsAsync(20, "before the cut");
        var cutAt = _clock.Elapsed;
        redisOfCut.Set(FaultProxy.Mode.Blackhole);
        inbound[0].Set(FaultProxy.Mode.Blackhole);
        inbound[1].Isolate(_silos[0].ProcessId);
        inbound[2].Isolate(_silos[0].ProcessId);
        output.WriteLine($"{_clock.Elapsed} ({DateTime.Now:HH:mm:ss.fff}): silo 0 cut off");
        int before = Volatile.Read(ref _grants);
        await GrantsAsync(1, "through the other silos during the cut");
        output.WriteLine($"{_clock.Elapsed}: the first grant through the other silos came {(_clock.Elapsed - cutAt).TotalSeconds:F1} s after the cut");
        await GrantsAsync(10 - (Volatile.Read(ref _grants) - before), "through the other silos during the cut");
        if (TimeSpan.FromSeconds(12) - (_clock.Elapsed - cutAt) is { Ticks: > 0 } rest)
            await Task.Delay(rest); // the partition lasts 12 s, or until the others have served 10 grants without silo 0
        foreach (var proxy in _proxies)
            proxy.Set(FaultProxy.Mode.Pass);
        output.WriteLine($"{_clock.Elapsed} ({DateTime.Now:HH:mm:ss.fff}): healed");
        await GrantsAsync(30, "after the heal");
        Assert.True(await _silos[0].ExitsWithinAsync(TimeSpan.FromSeconds(30)), "the silo declared dead while cut off did not stop itself");
        await GrantsAsync(10, "after the cut silo stopped");
        await stop.CancelAsync();
        var ended = Task.WhenAll(loops);
        await Task.WhenAny(ended, Task.Delay(Generous));

        if (!_violations.IsEmpty)
        {
            foreach (string line in _calls.OrderBy(l => l, StringComparer.Ordinal))
                output.WriteLine(line);
        }
        output.WriteLine($"grants: {_grants}; tickets: {_tickets.Count}; retried: {string.Join(", ", _retried.Select(r => $"{r.Key} {r.Value}"))}");
        Assert.True(_violations.IsEmpty, $"{_violations.Count} answers broke the contract:\n{string.Join("\n", _violations.Take(20))}");
        Assert.True(ended.IsCompletedSuccessfully, $"the clients did not end their last tickets within {Generous} of being told to stop");
        // Every ticket ended as its client was told: released. None holds a slot or waits on the silo.
        Assert.All(_tickets, t => Assert.Equal("released", t.Value));
        var stats = await _http[1].GetFromJsonAsync<JsonElement>($"/v1/resources/{Resource}/stats");
        Assert.Equal((0, 0), (stats.GetProperty("leases").GetInt32(), stats.GetProperty("waiting").GetInt32()));
        var tokens = _fencingTokens.ToList();
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    /// <summary>One client: acquire with a key, long-poll until granted, hold, release with a key; every call through the
    /// next silo, and through another when one times out or answers 503.</summary>
    private async Task ClientLoopAsync(int client, CancellationToken stop)
    {
        int next = client;
        for (int n = 0; !stop.IsCancellationRequested; n++)
        {
            string key = $"c{client}-{n}";
            var (status, view) = await CallAsync(HttpMethod.Post, $"/v1/resources/{Resource}/acquire",
                new { clientId = $"c{client}", maxWaitMs = 120_000, idempotencyKey = key }, next++);
            if (status is not (200 or 202))
            {
                Violation($"acquire {key} answered {status} {view}");
                continue;
            }
            long id = view.GetProperty("id").GetInt64();
            _tickets[id] = State(view);
            while (State(view) == "waiting")
            {
                (status, view) = await CallAsync(HttpMethod.Get, $"/v1/resources/{Resource}/requests/{id}/wait?timeoutMs=2000", null, next++);
                if (status != 200)
                {
                    Violation($"wait on acknowledged ticket {id} ({key}) answered {status} {view}");
                    break;
                }
                _tickets[id] = State(view);
            }
            if (status is 200 && State(view) == "granted")
            {
                // Granted while its acquire was retried (the retry answers the ticket as it stands): claim it.
                (status, view) = await CallAsync(HttpMethod.Post, $"/v1/resources/{Resource}/requests/{id}/renew", null, next++);
                if (status != 200)
                    Violation($"the claim of granted ticket {id} ({key}) answered {status} {view}");
                _tickets[id] = State(view);
            }
            if (State(view) != "held")
            {
                if (status == 200)
                    Violation($"ticket {id} ({key}) left the waitlist as {State(view)}");
                return;
            }
            _fencingTokens.Add(view.GetProperty("fencingToken").GetInt64());
            Interlocked.Increment(ref _grants);
            await Task.Delay(10, CancellationToken.None);
            (status, view) = await CallAsync(HttpMethod.Post, $"/v1/resources/{Resource}/requests/{id}/release",
                new { idempotencyKey = "release-" + key }, next++);
            if (status != 200 || State(view) != "released")
            {
                Violation($"release of acknowledged lease {id} ({key}) answered {status} {view}");
                return;
            }
            _tickets[id] = "released";
        }
    }

    /// <summary>One call, through silo <paramref name="start"/> and then the next ones until one answers other than 503
    /// within the call timeout (the call is safe to repeat: keys, or nothing changed).</summary>
    private async Task<(int Status, JsonElement Body)> CallAsync(HttpMethod method, string path, object? body, int start)
    {
        for (int attempt = 0; ; attempt++)
        {
            int silo = (start + attempt) % _http.Count;
            using var timeout = new CancellationTokenSource(CallTimeout);
            var began = _clock.Elapsed;
            try
            {
                using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
                using var response = await _http[silo].SendAsync(request, timeout.Token);
                var answer = await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
                _calls.Enqueue($"{began} +{(_clock.Elapsed - began).TotalMilliseconds:F0}ms silo {silo} {method} {path} -> {(int)response.StatusCode} {State(answer)}");
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                    return ((int)response.StatusCode, answer);
                string type = answer.TryGetProperty("type", out var t) ? t.GetString()! : "503 without a problem";
                _retried.AddOrUpdate(type[(type.LastIndexOf(':') + 1)..], 1, (_, c) => c + 1);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException)
            {
                _retried.AddOrUpdate(ex is OperationCanceledException ? "timed out" : "no answer", 1, (_, c) => c + 1);
                _calls.Enqueue($"{began} +{(_clock.Elapsed - began).TotalMilliseconds:F0}ms silo {silo} {method} {path} -> {ex.GetType().Name}");
            }
            await Task.Delay(50, CancellationToken.None);
        }
    }

    private async Task GrantsAsync(int more, string when)
    {
        int target = Volatile.Read(ref _grants) + more;
        var deadline = _clock.Elapsed + Generous;
        while (Volatile.Read(ref _grants) < target && _violations.IsEmpty) // a broken contract is reported at the end, with every call
        {
            Assert.True(_clock.Elapsed < deadline, $"fewer than {more} grants within {Generous} {when}");
            await Task.Delay(50); // the clients' loops are the events; this only looks at their count
        }
    }

    private void Violation(string what) => _violations.Enqueue($"{_clock.Elapsed}: {what}");

    private static string State(JsonElement view) => view.TryGetProperty("state", out var s) ? s.GetString() ?? "" : "";

    private static string ProxyPort(FaultProxy proxy) => proxy.Address.Split(':')[1];

    private FaultProxy Track(FaultProxy proxy)
    {
        _proxies.Add(proxy);
        return proxy;
    }
}
