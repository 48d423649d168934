using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

/// <summary>The silo in its own process, killed with SIGKILL in the middle of a load and restarted on the same data.</summary>
public sealed class CrashTests : IAsyncLifetime
{
    // One window longer than the whole test, so every grant of the run counts against one budget.
    private const int Budget = 60;
    // Grants and leases of callers that died with the silo (their answers lost) free their slots within seconds.
    private const string Policy = """{"maxConcurrent":2,"requestsPerWindow":60,"windowMs":600000,"claimWindowMs":2000,"leaseTtlMs":5000,"defaultMaxWaitMs":600000}""";

    private readonly TempDirectory _folder = new("oq-crash-");
    private readonly ConcurrentDictionary<long, long> _grants = new(); // fencing token -> request id
    private readonly ConcurrentDictionary<long, byte> _accepted = new();
    private readonly ConcurrentDictionary<long, byte> _released = new();
    private readonly ConcurrentDictionary<long, byte> _uncertain = new(); // a release sent, its answer lost with the process
    private readonly TaskCompletionSource _oneThirdGranted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task AKilledSiloRestartsWithEveryAcceptedRequestAndNeverGrantsBeyondTheBudget()
    {
        long maxTokenBeforeCrash;
        await using (var silo = await SiloProcess.StartAsync(_folder.Path))
        {
            using var http = silo.CreateClient();
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/crash", Policy)).Status);
            using var load = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 6).Select(i => Worker(silo, $"w{i}", load.Token)).ToList();
            await _oneThirdGranted.Task.WaitAsync(TimeSpan.FromSeconds(60));

            await silo.KillAsync();
            await load.CancelAsync();
            await Task.WhenAll(workers);
            maxTokenBeforeCrash = _grants.Keys.Max();
        }

        await using (var silo = await SiloProcess.StartAsync(_folder.Path))
        {
            using var http = silo.CreateClient();
            foreach (long id in _accepted.Keys.Where(id => !_released.ContainsKey(id)))
            {
                if (_uncertain.ContainsKey(id))
                {
                    // Its release was sent as the silo died: the same release again answers what the first did (it had
                    // landed) or does it now; a lease that ran out meanwhile is told so. Never "unknown".
                    var (again, answer) = await http.Post($"v1/resources/crash/requests/{id}/release", ReleaseOf(id));
                    Assert.True((again == HttpStatusCode.OK && answer.State() == "released") || again == HttpStatusCode.Gone,
                        $"the release of lease {id} retried after the restart answered {again} {answer}");
                    continue;
                }
                var (status, body) = await http.Get($"v1/resources/crash/requests/{id}");
                // Accepted means accounted for: still there, or ended by its claim window or TTL (its caller died).
                Assert.True(status == HttpStatusCode.OK && body.State() is "waiting" or "held" or "reclaimed" or "expired",
                    $"accepted request {id} after the restart: {status} {body}");
                // End the dead callers' tickets and leases now, as callers that reconnect would.
                if (body.State() is "waiting" or "held")
                    Assert.Equal(HttpStatusCode.OK, (await http.Delete($"v1/resources/crash/requests/{id}")).Status);
            }

            int before = _grants.Count;
            using var load = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 6).Select(i => Worker(silo, $"v{i}", load.Token)).ToList();
            // Run on until the silo says the window's budget is spent. Grants it made that no caller saw
            // (answers lost with the killed process) count there too, so callers may have seen fewer than 60.
            await WaitUntil(async () => (await http.Get("v1/resources/crash/stats")).Body.GetProperty("requestsLeftInWindow").GetInt64() == 0,
                TimeSpan.FromSeconds(60), silo, workers);
            await load.CancelAsync();
            await Task.WhenAll(workers);

            // A silo that forgot the grants before the crash would have granted a second budget after it.
            Assert.True(_grants.Count <= Budget, $"{_grants.Count} grants seen in one window whose budget is {Budget}");
            Assert.True(_grants.Count > before, "nothing was granted after the restart");
            Assert.True(_grants.Keys.Min() > 0 && _grants.Keys.Count(t => t <= maxTokenBeforeCrash) == before,
                "a fencing token issued after the restart repeats one from before it");
        }
    }

    /// <summary>
    /// The silo stays down longer than a lease's TTL and a ticket's wait: neither runs out over the downtime, because the
    /// restarted silo knows from the dead one's last heartbeat how long nobody ran the resource, and moves their deadlines
    /// on by that much. (Before the fix the new silo's first heartbeat hid the downtime, and the lease came back expired.)
    /// </summary>
    [Fact]
    public async Task TimeTheSiloWasDownDoesNotCountAgainstLeasesAndWaits()
    {
        // The TTL leaves the setup seconds to spare on a loaded machine; the silo then stays down longer than it.
        const string policy = """{"maxConcurrent":1,"leaseTtlMs":8000,"defaultMaxWaitMs":10000,"claimWindowMs":8000}""";
        DateTimeOffset leaseExpires, ticketExpires;
        long lease, ticket;
        TimeSpan down = TimeSpan.FromSeconds(12); // longer than the TTL and the wait: the premise of the test, not a wait for an event
        DateTimeOffset killedAt;
        await using (var silo = await SiloProcess.StartAsync(_folder.Path))
        {
            using var http = silo.CreateClient();
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/down", policy)).Status);
            var (_, held) = await http.Post("v1/resources/down/acquire", """{"clientId":"a"}""");
            var (_, waiting) = await http.Post("v1/resources/down/acquire", """{"clientId":"b"}""");
            Assert.Equal(("held", "waiting"), (held.State(), waiting.State()));
            (lease, leaseExpires) = (held.GetProperty("id").GetInt64(), held.GetProperty("expiresAt").GetDateTimeOffset());
            (ticket, ticketExpires) = (waiting.GetProperty("id").GetInt64(), waiting.GetProperty("expiresAt").GetDateTimeOffset());
            killedAt = DateTimeOffset.UtcNow;
            await silo.KillAsync();
        }
        await Task.Delay(down);

        await using (var silo = await SiloProcess.StartAsync(_folder.Path))
        {
            using var http = silo.CreateClient();
            var (_, held) = await http.Get($"v1/resources/down/requests/{lease}");
            var (_, waiting) = await http.Get($"v1/resources/down/requests/{ticket}");
            var answeredAt = DateTimeOffset.UtcNow;

            Assert.Equal(("held", "waiting"), (held.State(), waiting.State()));
            var moved = held.GetProperty("expiresAt").GetDateTimeOffset() - leaseExpires;
            // At least the time it was down; at most that plus the beat before the kill (1 s) and the restart.
            Assert.InRange(moved, down, answeredAt - killedAt + TimeSpan.FromSeconds(1));
            Assert.Equal(moved, waiting.GetProperty("expiresAt").GetDateTimeOffset() - ticketExpires);
        }
    }

    /// <summary>
    /// A .NET client long-polls for a grant (and holds a lease) while the silo is killed and started again on the same
    /// data and port: the long-poll waits the restart out instead of failing the acquire, the lease's release goes through
    /// once the silo is back, and the waiter is granted the next token.
    /// </summary>
    [Fact]
    public async Task ALongPollingClientWaitsOutARestartAndIsGranted()
    {
        int port = Cluster.PostgresServer.FreePort();
        var silo = await SiloProcess.StartAsync(_folder.Path, port);
        try
        {
            using (var http = silo.CreateClient())
                Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/restarted", """{"maxConcurrent":1,"leaseTtlMs":120000,"defaultMaxWaitMs":120000}""")).Status);
            await using var client = new OrleansQueue.Client.OrleansQueueClient(new OrleansQueue.Client.OrleansQueueClientOptions
            {
                BaseAddress = silo.BaseAddress, ClientId = "restart", Transport = OrleansQueue.Client.ClientTransport.LongPoll,
                ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
            });
            var holder = await client.AcquireAsync("restarted");
            var waiter = client.AcquireAsync("restarted");
            using (var http = silo.CreateClient())
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                while ((await http.Get("v1/resources/restarted/stats")).Body.GetProperty("waiting").GetInt32() != 1)
                {
                    Assert.True(DateTime.UtcNow < deadline, "the waiter never queued");
                    await Task.Delay(20); // the stats endpoint has no push
                }
            }

            await silo.DisposeAsync(); // SIGKILL
            silo = await SiloProcess.StartAsync(_folder.Path, port);
            Assert.False(waiter.IsCompleted, $"the waiter ended while the silo was down: {waiter.Exception?.InnerException?.Message}");
            await holder.DisposeAsync();

            await using var lease = await waiter.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(holder.FencingToken + 1, lease.FencingToken);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    /// <summary>One caller: acquire, wait for the grant by long-poll if queued, record it, release; until cancelled or the silo dies.</summary>
    private async Task Worker(SiloProcess silo, string client, CancellationToken stop)
    {
        using var http = silo.CreateClient();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await http.Post("v1/resources/crash/acquire", $$"""{"clientId":"{{client}}"}""");
                if (status is not (HttpStatusCode.OK or HttpStatusCode.Accepted))
                    throw new InvalidOperationException($"acquire answered {status} {body}");
                long id = body.GetProperty("id").GetInt64();
                _accepted[id] = 0;
                while (body.State() == "waiting" && !stop.IsCancellationRequested)
                    (_, body) = await http.Get($"v1/resources/crash/requests/{id}/wait?timeoutMs=1000");
                if (body.State() != "held")
                    continue;
                long token = body.GetProperty("fencingToken").GetInt64();
                Assert.True(_grants.TryAdd(token, id), $"fencing token {token} granted twice");
                if (_grants.Count >= Budget / 3)
                    _oneThirdGranted.TrySetResult();
                await Task.Delay(10, CancellationToken.None); // the caller's work under the lease
                _uncertain[id] = 0;
                (status, body) = await http.Post($"v1/resources/crash/requests/{id}/release", ReleaseOf(id));
                Assert.Equal(HttpStatusCode.OK, status);
                _released[id] = 0;
                _uncertain.TryRemove(id, out _);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            // The silo was killed under us.
        }
    }

    private static string ReleaseOf(long id) => "{\"idempotencyKey\":\"release-" + id + "\"}";

    private async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, SiloProcess silo, List<Task> workers)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (workers.FirstOrDefault(w => w.IsFaulted) is { } failed)
                await failed;
            if (workers.All(w => w.IsCompleted))
                throw new InvalidOperationException($"Every worker stopped with {_grants.Count} grants:\n{silo.Log}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The load did not get there in {timeout}:\n{silo.Log}");
            await Task.Delay(50); // the stats endpoint has no push; asking 20 times a second is the test's own load
        }
    }
}
