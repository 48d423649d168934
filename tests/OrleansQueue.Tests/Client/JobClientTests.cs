using System.Collections.Concurrent;
using System.Text.Json;
using OrleansQueue.Client;
using OrleansQueue.Contracts;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

public sealed class JobClientTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    [Fact]
    public async Task WorkersRunEnqueuedJobsAndCallersGetTheirResultsWithFailuresRetried()
    {
        var http = silo.CreateClient();
        await http.CreateResource("client-jobs", """{"maxConcurrent":4,"jobRetryDelayMs":10,"jobMaxAttempts":3}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "jobs" });
        var runs = new ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync("client-jobs", async (job, ct) =>
        {
            int n = job.Payload.GetProperty("n").GetInt32();
            if (runs.AddOrUpdate(n, 1, (_, r) => r + 1) == 1 && n % 5 == 0)
                throw new InvalidOperationException($"flaky on {n}");
            await job.ReportProgressAsync(1.0, "done", ct);
            return new { doubled = n * 2 };
        }, concurrency: 3, cancellationToken: stop.Token);

        var jobs = new List<(int N, QueueJob Job)>();
        for (int n = 0; n < 30; n++)
            jobs.Add((n, await client.EnqueueAsync("client-jobs", new { n }, priority: n % 2 == 0 ? Priority.High : Priority.Normal)));
        foreach (var (n, job) in jobs)
        {
            var result = await client.WaitForResultAsync("client-jobs", job.Id).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(n * 2, result!.Value.GetProperty("doubled").GetInt32());
        }
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, (await client.GetJobAsync("client-jobs", jobs[5].Job.Id)).Attempts);
        Assert.All(runs, r => Assert.Equal(r.Key % 5 == 0 ? 2 : 1, r.Value));
        var stats = (await http.Get("/v1/resources/client-jobs/stats")).Body.GetProperty("jobs");
        Assert.Equal(30, stats.GetProperty("completed").GetInt64());
        Assert.Equal(6, stats.GetProperty("retried").GetInt64());
    }

    [Fact]
    public async Task WaitingForADeadLetteredJobThrowsWithItsLastError()
    {
        var http = silo.CreateClient();
        await http.CreateResource("client-jobs-dead", """{"jobRetryDelayMs":1,"jobMaxAttempts":2}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress });
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync("client-jobs-dead", (_, _) => throw new InvalidOperationException("always"), cancellationToken: stop.Token);

        var job = await client.EnqueueAsync("client-jobs-dead", "doomed");
        var error = await Assert.ThrowsAsync<JobFailedException>(() => client.WaitForResultAsync("client-jobs-dead", job.Id).WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Equal(JobState.DeadLettered, error.Job.State);
        Assert.Contains("always", error.Job.Error);
        Assert.Equal(2, error.Job.Attempts);
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task AJobOfAPollingOnlyResourceIsWaitedOnByLongPoll()
    {
        var http = silo.CreateClient();
        await http.CreateResource("client-jobs-polling", """{"pushEnabled":false}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress });
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync("client-jobs-polling", (job, _) => Task.FromResult<object?>("pong"), cancellationToken: stop.Token);

        var job = await client.EnqueueAsync("client-jobs-polling", "ping");
        var result = await client.WaitForResultAsync("client-jobs-polling", job.Id).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("pong", result!.Value.GetString());
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
