using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Client;
using OrleansQueue.Contracts;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

public sealed class JobClientTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    /// <summary>A client over the gateway (WebSocket and HTTP), or through Orleans with the silo's grain factory.</summary>
    private OrleansQueueClient Client(string via, string clientId) => via == "orleans"
        ? new OrleansQueueClient(silo.Services.GetRequiredService<IGrainFactory>(), new OrleansQueueClientOptions { ClientId = clientId })
        : new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = clientId });

    [Theory]
    [InlineData("gateway")]
    [InlineData("orleans")]
    public async Task WorkersRunEnqueuedJobsAndCallersGetTheirResultsWithFailuresRetried(string via)
    {
        var http = silo.CreateClient();
        string resource = $"client-jobs-{via}";
        await http.CreateResource(resource, """{"maxConcurrent":4,"jobRetryDelayMs":10,"jobMaxAttempts":3}""");
        await using var client = Client(via, "jobs");
        var runs = new ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync(resource, async (job, ct) =>
        {
            int n = job.Payload.GetProperty("n").GetInt32();
            if (runs.AddOrUpdate(n, 1, (_, r) => r + 1) == 1 && n % 5 == 0)
                throw new InvalidOperationException($"flaky on {n}");
            await job.ReportProgressAsync(1.0, "done", ct);
            return new { doubled = n * 2 };
        }, concurrency: 3, cancellationToken: stop.Token);

        var jobs = new List<(int N, QueueJob Job)>();
        for (int n = 0; n < 30; n++)
            jobs.Add((n, await client.EnqueueAsync(resource, new { n }, priority: n % 2 == 0 ? Priority.High : Priority.Normal)));
        foreach (var (n, job) in jobs)
        {
            var result = await client.WaitForResultAsync(resource, job.Id).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(n * 2, result!.Value.GetProperty("doubled").GetInt32());
        }
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, (await client.GetJobAsync(resource, jobs[5].Job.Id)).Attempts);
        Assert.All(runs, r => Assert.Equal(r.Key % 5 == 0 ? 2 : 1, r.Value));
        var stats = (await http.Get($"/v1/resources/{resource}/stats")).Body.GetProperty("jobs");
        Assert.Equal(30, stats.GetProperty("completed").GetInt64());
        Assert.Equal(6, stats.GetProperty("retried").GetInt64());
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("orleans")]
    public async Task ACallerReadsAJobsOutputWhileItsWorkerStillAppendsToIt(string via)
    {
        var http = silo.CreateClient();
        string resource = $"client-output-{via}";
        await http.CreateResource(resource, """{"maxConcurrent":1}""");
        await using var client = Client(via, "writer");
        var firstSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync(resource, async (job, ct) =>
        {
            await job.AppendOutputAsync("Once upon a time, ", ct);
            await firstSeen.Task.WaitAsync(ct); // the caller has read this much while the job runs
            await job.AppendOutputAsync("there was a café…", ct);
            Assert.Equal(38, job.OutputLength);
            return "the end";
        }, cancellationToken: stop.Token);

        var enqueued = await client.EnqueueAsync(resource, new { story = true });
        var stretches = new List<JobOutputView>();
        await foreach (var stretch in client.FollowJobOutputAsync(resource, enqueued.Id).WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token))
        {
            stretches.Add(stretch);
            firstSeen.TrySetResult();
        }
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(("Once upon a time, ", 0L, 18L, JobState.Running), (stretches[0].Text, stretches[0].Offset, stretches[0].Next, stretches[0].State));
        Assert.Equal("Once upon a time, there was a café…", string.Concat(stretches.Select(s => s.Text)));
        Assert.True(stretches[^1].Complete);
        Assert.Equal("there was a café…", (await client.ReadJobOutputAsync(resource, enqueued.Id, after: 18)).Text);
        Assert.Equal(38, (await client.GetJobAsync(resource, enqueued.Id)).OutputLength);
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("orleans")]
    public async Task AWorkerRunsAsManyJobsAtOnceAsItsConcurrency(string via)
    {
        var http = silo.CreateClient();
        string resource = $"client-jobs-wide-{via}";
        await http.CreateResource(resource, """{"maxConcurrent":8}""");
        await using var client = Client(via, "wide");
        var queued = new List<QueueJob>();
        for (int n = 0; n < 8; n++)
            queued.Add(await client.EnqueueAsync(resource, new { n }));
        var together = new Barrier(8);
        using var stop = new CancellationTokenSource();
        var workers = client.RunWorkerAsync(resource, (job, ct) =>
            Task.Run<object?>(() => together.SignalAndWait(TimeSpan.FromSeconds(60), ct) ? "met" : "alone", ct), concurrency: 8, cancellationToken: stop.Token);

        foreach (var job in queued)
            Assert.Equal("met", (await client.WaitForResultAsync(resource, job.Id).WaitAsync(TimeSpan.FromSeconds(90)))!.Value.GetString());
        await stop.CancelAsync();
        await workers.WaitAsync(TimeSpan.FromSeconds(60));
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
