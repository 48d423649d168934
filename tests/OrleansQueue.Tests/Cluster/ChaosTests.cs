using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// Three silos under continuous load while one is killed, one is paused past the heartbeat timeout and resumed, and one
/// is added. Afterwards, from the grant log: no resource went over its budget in any window, no fencing token was handed
/// out twice, every acquire ended granted or with a typed error, every accepted job completed once with its result,
/// and grants never stopped for longer than the stated failover time.
/// </summary>
public abstract class ChaosTests(ITestOutputHelper output)
{
    private const int Resources = 4;
    private const int RequestsPerWindow = 20;
    private const int WindowMs = 1000;
    private const int Jobs = 150;

    /// <summary>The failover time this test holds the cluster to: the silent owner is judged dead after DeadAfter; a
    /// heartbeat, the take-over and the clients' reconnects fit in the rest.</summary>
    public static readonly TimeSpan FailoverTime = TimeSpan.FromMilliseconds(TestCluster.DeadAfterMilliseconds * 2 + 2000);

    protected abstract bool Postgres { get; }

    [StoreFact]
    public async Task BudgetsHoldAndNothingIsLostWhileSilosDiePauseAndJoin()
    {
        await using var cluster = await TestCluster.StartAsync(3, Postgres);
        var silos = cluster.Silos.ToList();
        using (var admin = silos[0].CreateClient())
        {
            for (int r = 0; r < Resources; r++)
                await admin.CreateResource($"chaos-{r}", $"{{\"maxConcurrent\":3,\"requestsPerWindow\":{RequestsPerWindow},\"windowMs\":{WindowMs}}}");
            await admin.CreateResource("chaos-jobs", "{\"maxConcurrent\":4,\"requestsPerWindow\":100,\"windowMs\":1000}");
        }
        var clients = silos.Select((s, i) => new OrleansQueueClient(new OrleansQueueClientOptions
        {
            BaseAddress = s.BaseAddress,
            FallbackAddresses = [.. silos.Where(o => o != s).Select(o => o.BaseAddress)],
            ClientId = $"client-{i}",
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        })).ToList();
        await using var worker = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silos[0].BaseAddress, ClientId = "worker" });

        var clock = Stopwatch.StartNew();
        var grants = new ConcurrentBag<(string Resource, long Fencing, DateTimeOffset GrantedAt, TimeSpan SeenAt)>();
        var typedErrors = new ConcurrentDictionary<string, int>();
        var untyped = new ConcurrentBag<Exception>();
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            var client = clients[i % clients.Count];
            string resource = $"chaos-{i % Resources}";
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await using var lease = await client.AcquireAsync(resource, maxWait: TimeSpan.FromSeconds(20));
                    grants.Add((resource, lease.FencingToken, lease.GrantedAt, clock.Elapsed));
                    await Task.Delay(5);
                }
                catch (OrleansQueueException ex)
                {
                    typedErrors.AddOrUpdate(ex.GetType().Name, 1, (_, n) => n + 1);
                }
                catch (Exception ex)
                {
                    untyped.Add(ex);
                }
            }
        })).ToList();

        var runs = new ConcurrentDictionary<int, int>();
        using var workersStop = new CancellationTokenSource();
        var workers = worker.RunWorkerAsync("chaos-jobs", async (job, ct) =>
        {
            int n = job.Payload.GetProperty("n").GetInt32();
            runs.AddOrUpdate(n, 1, (_, c) => c + 1);
            await Task.Delay(2, ct);
            return new { doubled = n * 2 };
        }, concurrency: 4, cancellationToken: workersStop.Token);
        var jobs = new List<(int N, long Id)>();
        for (int n = 0; n < Jobs; n++)
            jobs.Add((n, (await clients[n % 2].EnqueueAsync("chaos-jobs", new { n }, idempotencyKey: $"job-{n}")).Id));

        // The chaos, while the loops run.
        await Task.Delay(1500);
        var killed = silos[1];
        await cluster.KillAsync(killed);
        output.WriteLine($"{clock.Elapsed}: killed {killed}");
        await Task.Delay(1500);
        var paused = silos[2];
        TestCluster.Pause(paused);
        output.WriteLine($"{clock.Elapsed}: paused {paused}");
        await Task.Delay(TimeSpan.FromMilliseconds(TestCluster.DeadAfterMilliseconds * 2));
        TestCluster.Resume(paused);
        output.WriteLine($"{clock.Elapsed}: resumed {paused}");
        await Task.Delay(1000);
        var added = await cluster.AddSiloAsync();
        output.WriteLine($"{clock.Elapsed}: added {added}");
        await Task.Delay(2000);
        await stop.CancelAsync();
        var loadEnded = clock.Elapsed;
        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(60));

        var results = new List<QueueJob>();
        foreach (var (n, id) in jobs)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await clients[0].WaitForResultAsync("chaos-jobs", id, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                var stuck = await clients[0].GetJobAsync("chaos-jobs", id);
                Assert.Fail($"job {n} (id {id}) never reported its end within 60 s; it stands {stuck.State} after {stuck.Attempts} attempts");
            }
            results.Add(await clients[0].GetJobAsync("chaos-jobs", id));
        }
        await workersStop.CancelAsync();
        await workers.ContinueWith(_ => { }, TaskScheduler.Default);
        foreach (var client in clients)
            await client.DisposeAsync();

        // Every acquire ended granted or with a typed error.
        Assert.True(untyped.IsEmpty, $"{untyped.Count} untyped failures, the first: {untyped.FirstOrDefault()}");
        output.WriteLine($"grants: {grants.Count}; typed errors: {string.Join(", ", typedErrors.Select(e => $"{e.Key} {e.Value}"))}");
        Assert.True(grants.Count > 100, $"only {grants.Count} grants");

        foreach (var byResource in grants.GroupBy(g => g.Resource))
        {
            // No grant was handed out twice.
            var tokens = byResource.Select(g => g.Fencing).ToList();
            Assert.Equal(tokens.Count, tokens.Distinct().Count());
            // No window held more than the budget (by the silos' own grant times).
            var times = byResource.Select(g => g.GrantedAt).Order().ToList();
            for (int i = 0; i < times.Count; i++)
            {
                int inWindow = times.Skip(i).TakeWhile(t => t - times[i] < TimeSpan.FromMilliseconds(WindowMs)).Count();
                Assert.True(inWindow <= RequestsPerWindow, $"{byResource.Key}: {inWindow} grants in the window from {times[i]:O}");
            }
        }

        // Grants never stopped for longer than the failover time.
        var seen = grants.Select(g => g.SeenAt).Where(t => t < loadEnded).Order().ToList();
        var longestGap = seen.Zip(seen.Skip(1), (a, b) => b - a).Max();
        output.WriteLine($"longest time without any grant: {longestGap.TotalMilliseconds:F0} ms (failover time held to {FailoverTime.TotalMilliseconds:F0} ms)");
        Assert.True(longestGap < FailoverTime, $"no grant for {longestGap}");

        // Every accepted job completed, once, with its result.
        Assert.All(results, job => Assert.Equal(OrleansQueue.Grains.JobState.Completed, job.State));
        Assert.All(results.Zip(jobs), pair => Assert.Equal(pair.Second.N * 2, pair.First.Result!.Value.GetProperty("doubled").GetInt32()));
        output.WriteLine($"jobs: {Jobs} completed; handler runs beyond one (jobs handed out again after a silo died): {runs.Values.Sum() - runs.Count}");
    }
}

public sealed class InMemoryChaosTests(ITestOutputHelper output) : ChaosTests(output)
{
    protected override bool Postgres => false;
}

public sealed class PostgresChaosTests(ITestOutputHelper output) : ChaosTests(output), INeedsPostgres
{
    protected override bool Postgres => true;
}
