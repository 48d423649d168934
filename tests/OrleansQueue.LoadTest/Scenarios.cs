using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Threading.RateLimiting;
using OrleansQueue.Client;
using OrleansQueue.Contracts;

namespace OrleansQueue.LoadTest;

internal sealed record Latencies(double P50, double P99, double P999, int Overshoot = 0)
{
    public static Latencies Of(IEnumerable<double> samples, int overshoot = 0)
    {
        var ms = samples.Order().ToList();
        double At(double q) => ms.Count == 0 ? double.NaN : ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        return new Latencies(At(0.50), At(0.99), At(0.999), overshoot);
    }
}

internal sealed record Throughput(double PerSecond, int Overshoot = 0);

/// <summary>Under saturation: how much of the window's budget was granted, whether any window held more, and whether a
/// lower priority was ever granted while a higher one had been waiting.</summary>
internal sealed record Saturation(double BudgetUse, int MostInAWindow, int Limit, int Inversions, int Grants);

internal sealed record JobRun(double PerSecond, Latencies EnqueueToResult);

internal static class Scenarios
{
    private const int Warmup = 100;

    private static double Ms(long from) => Stopwatch.GetElapsedTime(from).TotalMilliseconds;

    public static async Task<Latencies> HttpRoundTrips(HttpClient http, int n)
    {
        var samples = new List<double>(n);
        for (int i = 0; i < n + Warmup; i++)
        {
            long t = Stopwatch.GetTimestamp();
            using var r = await http.GetAsync("ping");
            if (i >= Warmup)
                samples.Add(Ms(t));
            Progress.Advance();
        }
        return Latencies.Of(samples);
    }

    public static async Task<Latencies> WebSocketRoundTrips(Uri uri, int n)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new UriBuilder(uri) { Scheme = "ws" }.Uri, CancellationToken.None);
        var buffer = new byte[64];
        var samples = new List<double>(n);
        for (int i = 0; i < n + Warmup; i++)
        {
            long t = Stopwatch.GetTimestamp();
            await socket.SendAsync(new byte[] { 1 }, WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (i >= Warmup)
                samples.Add(Ms(t));
            Progress.Advance();
        }
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        return Latencies.Of(samples);
    }

    /// <summary>Two callers take turns on a one-slot resource; each measures from the other's release to its own code running.</summary>
    public static async Task<Latencies> CoordinatorHandoffs(OrleansQueueClient client, string resource, int n) =>
        await Handoffs(n, async () =>
        {
            var lease = await client.AcquireAsync(resource);
            return async () => await lease.ReleaseAsync();
        });

    public static async Task<Latencies> LimiterHandoffs(int n)
    {
        using var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 10 });
        return await Handoffs(n, async () =>
        {
            var lease = await limiter.AcquireAsync();
            return () =>
            {
                lease.Dispose();
                return Task.CompletedTask;
            };
        });
    }

    private static async Task<Latencies> Handoffs(int n, Func<Task<Func<Task>>> acquire)
    {
        var samples = new List<double>(n);
        long releasedAt = 0;
        int holders = 0, overshoot = 0, done = 0;
        async Task Caller()
        {
            while (Volatile.Read(ref done) < n + Warmup)
            {
                var release = await acquire();
                long from = Interlocked.Exchange(ref releasedAt, 0);
                if (Interlocked.Increment(ref holders) > 1)
                    Interlocked.Increment(ref overshoot);
                if (from != 0 && Interlocked.Increment(ref done) > Warmup)
                {
                    lock (samples)
                        samples.Add(Ms(from));
                    Progress.Advance();
                }
                // Hold the slot a moment, so that the other caller is surely waiting when it is released.
                await Task.Delay(1);
                Interlocked.Decrement(ref holders);
                Volatile.Write(ref releasedAt, Stopwatch.GetTimestamp());
                await release();
            }
        }
        await Task.WhenAll(Caller(), Caller());
        return Latencies.Of(samples, overshoot);
    }

    /// <summary>Closed loop: <paramref name="concurrency"/> callers acquire and release as fast as they can, caller i on
    /// resource i mod the count (one hot resource, or one each); <paramref name="limit"/> is each resource's MaxConcurrent.</summary>
    public static async Task<Throughput> CoordinatorCycles(OrleansQueueClient client, IReadOnlyList<string> resources, int seconds, int concurrency, int limit) =>
        await Cycles(seconds, concurrency, resources.Count, limit, i => async () =>
        {
            var lease = await client.AcquireAsync(resources[i % resources.Count]);
            return async () => await lease.DisposeAsync();
        });

    public static async Task<Throughput> LimiterCycles(int seconds)
    {
        using var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = 64, QueueLimit = 1000 });
        return await Cycles(seconds, 64, 1, 64, _ => async () =>
        {
            var lease = await limiter.AcquireAsync();
            return () =>
            {
                lease.Dispose();
                return Task.CompletedTask;
            };
        });
    }

    /// <summary>Overshoot is counted per resource: a caller that finds more holders of its resource than its limit,
    /// itself included, while it holds a lease.</summary>
    private static async Task<Throughput> Cycles(int seconds, int concurrency, int resources, int limit, Func<int, Func<Task<Func<Task>>>> caller)
    {
        long cycles = 0;
        int overshoot = 0;
        var holders = new int[resources];
        var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async i =>
        {
            var acquire = caller(i);
            await Task.Yield();
            while (Stopwatch.GetTimestamp() < until)
            {
                var release = await acquire();
                if (Interlocked.Increment(ref holders[i % resources]) > limit)
                    Interlocked.Increment(ref overshoot);
                Interlocked.Decrement(ref holders[i % resources]);
                await release();
                Interlocked.Increment(ref cycles);
                Progress.Advance();
            }
        }));
        return new Throughput(cycles / Stopwatch.GetElapsedTime(start).TotalSeconds, overshoot);
    }

    /// <summary>Open loop: acquires arrive at <paramref name="perSecond"/> whatever the silo does; each is released at once.
    /// Reports acquire-to-grant latency.</summary>
    public static async Task<Latencies> OpenLoop(OrleansQueueClient client, string resource, int perSecond, int seconds)
    {
        var samples = new ConcurrentBag<double>();
        var calls = new List<Task>(perSecond * seconds);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < perSecond * seconds; i++)
        {
            long due = start + (long)(i * (double)Stopwatch.Frequency / perSecond);
            while (Stopwatch.GetTimestamp() < due)
            {
                if (due - Stopwatch.GetTimestamp() > Stopwatch.Frequency / 500)
                    await Task.Delay(1);
                else
                    Thread.SpinWait(20);
            }
            calls.Add(Task.Run(async () =>
            {
                long t = Stopwatch.GetTimestamp();
                await using var lease = await client.AcquireAsync(resource);
                samples.Add(Ms(t));
                Progress.Advance();
            }));
        }
        await Task.WhenAll(calls);
        return Latencies.Of(samples);
    }

    /// <summary>
    /// A rate-limited resource kept saturated by high- and low-priority callers. Budget use is the load granted in whole
    /// windows after the first ÷ the load those windows allow; the most in any window (sliding, by the silo's grant
    /// times) must not exceed the limit; an inversion is a low grant made while a high request had been waiting for more
    /// than the slack of the clocks and the wire (5 ms) and was granted only later.
    /// </summary>
    public static async Task<Saturation> Saturate(OrleansQueueClient client, string resource, int limit, TimeSpan window, int seconds)
    {
        var grants = new ConcurrentBag<(Priority Priority, DateTimeOffset SentAt, DateTimeOffset GrantedAt)>();
        var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        var start = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            var priority = i % 2 == 0 ? Priority.High : Priority.Low;
            while (Stopwatch.GetTimestamp() < until)
            {
                var sent = DateTimeOffset.UtcNow;
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 2));
                    await using var lease = await client.AcquireAsync(resource, priority: priority, cancellationToken: timeout.Token);
                    grants.Add((priority, sent, lease.GrantedAt));
                    Progress.Advance();
                }
                catch (OperationCanceledException)
                {
                    return; // a low caller still starved at the end: strict priority, as it should be
                }
            }
        }));
        var times = grants.Select(g => g.GrantedAt).Order().ToList();
        int most = 0;
        for (int i = 0, j = 0; i < times.Count; i++)
        {
            while (times[i] - times[j] >= window)
                j++;
            most = Math.Max(most, i - j + 1);
        }
        int windows = (int)((times.LastOrDefault() - start) / window) - 1;
        var counted = times.Count(t => t >= start + window && t < start + window * (windows + 1));
        var highs = grants.Where(g => g.Priority == Priority.High).ToList();
        int inversions = grants.Where(g => g.Priority == Priority.Low)
            .Count(low => highs.Any(h => h.SentAt + TimeSpan.FromMilliseconds(5) < low.GrantedAt && h.GrantedAt > low.GrantedAt));
        return new Saturation(windows > 0 ? counted / (double)(windows * limit) : double.NaN, most, limit, inversions, grants.Count);
    }

    /// <summary>Jobs: enqueued by one client, run by a worker of <paramref name="workers"/>, each result pushed back.</summary>
    public static async Task<JobRun> Jobs(OrleansQueueClient client, OrleansQueueClient worker, string resource, int n, int workers)
    {
        using var stop = new CancellationTokenSource();
        var running = worker.RunWorkerAsync(resource, (job, _) => Task.FromResult<object?>(new { n = job.Payload.GetProperty("n").GetInt32() }),
            concurrency: workers, cancellationToken: stop.Token);
        long start = Stopwatch.GetTimestamp();
        var latencies = await Task.WhenAll(Enumerable.Range(0, n).Select(async i =>
        {
            long t = Stopwatch.GetTimestamp();
            var job = await client.EnqueueAsync(resource, new { n = i });
            await client.WaitForResultAsync(resource, job.Id);
            Progress.Advance();
            return Ms(t);
        }));
        double perSecond = n / Stopwatch.GetElapsedTime(start).TotalSeconds;
        await stop.CancelAsync();
        await running.ContinueWith(_ => { }, TaskScheduler.Default);
        return new JobRun(perSecond, Latencies.Of(latencies));
    }
}
