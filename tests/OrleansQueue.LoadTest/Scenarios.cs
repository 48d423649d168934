using System.Diagnostics;
using System.Net.WebSockets;
using System.Threading.RateLimiting;
using OrleansQueue.Client;

namespace OrleansQueue.LoadTest;

internal sealed record Latencies(double P50, double P99, double P999, int Overshoot = 0)
{
    public static Latencies Of(List<double> ms, int overshoot = 0)
    {
        ms.Sort();
        double At(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        return new Latencies(At(0.50), At(0.99), At(0.999), overshoot);
    }
}

internal sealed record Throughput(double PerSecond, int Overshoot = 0);

internal static class Scenarios
{
    private static double Ms(long from) => Stopwatch.GetElapsedTime(from).TotalMilliseconds;

    public static async Task<Latencies> HttpRoundTrips(HttpClient http, int n)
    {
        var samples = new List<double>(n);
        for (int i = 0; i < n + 100; i++)
        {
            long t = Stopwatch.GetTimestamp();
            using var r = await http.GetAsync("ping");
            if (i >= 100)
                samples.Add(Ms(t));
        }
        return Latencies.Of(samples);
    }

    public static async Task<Latencies> WebSocketRoundTrips(Uri uri, int n)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new UriBuilder(uri) { Scheme = "ws" }.Uri, CancellationToken.None);
        var buffer = new byte[64];
        var samples = new List<double>(n);
        for (int i = 0; i < n + 100; i++)
        {
            long t = Stopwatch.GetTimestamp();
            await socket.SendAsync(new byte[] { 1 }, WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (i >= 100)
                samples.Add(Ms(t));
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
            while (Volatile.Read(ref done) < n + 100)
            {
                var release = await acquire();
                long from = Interlocked.Exchange(ref releasedAt, 0);
                if (Interlocked.Increment(ref holders) > 1)
                    Interlocked.Increment(ref overshoot);
                if (from != 0 && Interlocked.Increment(ref done) > 100)
                {
                    lock (samples)
                        samples.Add(Ms(from));
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

    public static async Task<Throughput> CoordinatorCycles(OrleansQueueClient client, string resource, int seconds, int concurrency) =>
        await Cycles(seconds, concurrency, concurrency, async () =>
        {
            var lease = await client.AcquireAsync(resource);
            return async () => await lease.DisposeAsync();
        });

    public static async Task<Throughput> LimiterCycles(int seconds)
    {
        using var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = 64, QueueLimit = 1000 });
        return await Cycles(seconds, 64, 64, async () =>
        {
            var lease = await limiter.AcquireAsync();
            return () =>
            {
                lease.Dispose();
                return Task.CompletedTask;
            };
        });
    }

    private static async Task<Throughput> Cycles(int seconds, int concurrency, int limit, Func<Task<Func<Task>>> acquire)
    {
        long cycles = 0;
        int holders = 0, overshoot = 0;
        var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            await Task.Yield();
            while (Stopwatch.GetTimestamp() < until)
            {
                var release = await acquire();
                if (Interlocked.Increment(ref holders) > limit)
                    Interlocked.Increment(ref overshoot);
                Interlocked.Decrement(ref holders);
                await release();
                Interlocked.Increment(ref cycles);
            }
        }));
        return new Throughput(cycles / Stopwatch.GetElapsedTime(start).TotalSeconds, overshoot);
    }
}
