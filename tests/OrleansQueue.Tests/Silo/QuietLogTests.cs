namespace OrleansQueue.Tests.Silo;

/// <summary>What a user reads when the silo starts, serves and stops: a few lines that say where it is, no alarm.</summary>
public sealed class QuietLogTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-quiet-");

    public void Dispose() => _folder.Dispose();

    /// <summary>Reads an event stream until <paramref name="stop"/> (the caller leaving), then drops it. False when the silo
    /// cut the stream (reset) instead of ending it.</summary>
    private static async Task<bool> FollowAsync(SiloProcess silo, string path, TaskCompletionSource attached, CancellationToken stop)
    {
        using var http = silo.CreateClient();
        try
        {
            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, stop);
            await using var body = await response.Content.ReadAsStreamAsync(stop);
            var buffer = new byte[4096];
            while (await body.ReadAsync(buffer, stop) > 0)
                attached.TrySetResult();
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return false;
        }
        finally
        {
            attached.TrySetResult();
        }
        return true;
    }

    [Fact]
    public async Task AHealthyStartIsAFewLinesWithTheSummaryAndServingAddsNoAlarm()
    {
        var silo = await SiloProcess.StartAsync(_folder.Path);
        try
        {
            using var http = silo.CreateClient();
            await http.Put("v1/resources/quiet", """{"maxConcurrent":1}""");
            long lease = await http.Acquire("quiet", """{"clientId":"a"}""", "held");
            await http.Post($"v1/resources/quiet/requests/{lease}/release");
            await http.Get("v1/resources/quiet/stats");

            // Followers that leave as their ticket ends (a cancel racing the grant it would have been pushed): the late
            // pushes are dropped quietly, not logged as messages to an unknown object.
            await http.Put("v1/resources/quiet-race", """{"maxConcurrent":1}""");
            for (int i = 0; i < 20; i++)
            {
                long holder = await http.Acquire("quiet-race", """{"clientId":"h"}""", "held");
                long waiter = await http.Acquire("quiet-race", """{"clientId":"w","maxWaitMs":30000}""", "waiting");
                using var stream = new CancellationTokenSource();
                var attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var following = FollowAsync(silo, $"v1/resources/quiet-race/requests/{waiter}/events", attached, stream.Token);
                await attached.Task.WaitAsync(TimeSpan.FromSeconds(30)); // its first event: the stream follows the ticket
                var release = http.Post($"v1/resources/quiet-race/requests/{holder}/release"); // grants the waiter: a push
                await stream.CancelAsync(); // while the follower leaves
                var cancel = http.Delete($"v1/resources/quiet-race/requests/{waiter}");
                await Task.WhenAll(cancel, release, following);
            }
            await Task.Delay(TimeSpan.FromSeconds(3)); // past the observers' linger: what would be logged has been

            string log = silo.Log;
            var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length <= 30, $"{lines.Length} lines:\n{log}");
            Assert.Contains("OrleansQueue silo ready: HTTP on http://127.0.0.1:", log);
            Assert.Contains($"store sqlite at {Path.Combine(_folder.Path, "silo.db")}", log);
            Assert.DoesNotContain("fail:", log);
            Assert.DoesNotContain("warn:", log);
            Assert.DoesNotContain("crit:", log);
            Assert.DoesNotContain("Unexpected target grain", log);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task ASigtermWhileCallersWaitFollowAndWorkStopsTheSiloWithNoFailureOrStackTraceInItsLog()
    {
        var silo = await SiloProcess.StartAsync(_folder.Path);
        try
        {
            using var http = silo.CreateClient();
            await http.Put("v1/resources/quiet-stop", """{"maxConcurrent":1}""");
            await http.Acquire("quiet-stop", """{"clientId":"h"}""", "held");
            long waiter = await http.Acquire("quiet-stop", """{"clientId":"w","maxWaitMs":60000}""", "waiting");
            long job = (await http.Post("v1/resources/quiet-stop/jobs", """{"payload":{}}""")).Body.GetProperty("id").GetInt64();
            using var leaving = new CancellationTokenSource();
            var attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var followingJob = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var following = FollowAsync(silo, $"v1/resources/quiet-stop/requests/{waiter}/events", attached, leaving.Token);
            var followingTheJob = FollowAsync(silo, $"v1/resources/quiet-stop/jobs/{job}/events", followingJob, leaving.Token);
            var longPoll = http.Get($"v1/resources/quiet-stop/requests/{waiter}/wait?timeoutMs=60000");
            var worker = http.Post("v1/resources/quiet-stop/jobs/take", """{"workerId":"idle","waitMs":60000}""");
            await Task.WhenAll(attached.Task, followingJob.Task).WaitAsync(TimeSpan.FromSeconds(30));

            var stopping = System.Diagnostics.Stopwatch.StartNew();
            silo.Terminate();

            Assert.True(await silo.ExitsWithinAsync(TimeSpan.FromSeconds(60)), "the silo did not stop on SIGTERM");
            // Its streams and long-polls ended at once: nothing held the stop until the host's 30 s shutdown timeout.
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"the stop took {stopping.Elapsed}");
            bool[] ended = await Task.WhenAll(following, followingTheJob);
            Assert.Equal(new[] { true, true }, ended); // ended, not cut
            await leaving.CancelAsync();
            await Task.WhenAll(longPoll, worker).ContinueWith(_ => { }, TaskScheduler.Default); // answered or cut: either is the silo's to choose
            string log = silo.Log;
            Assert.DoesNotContain("fail:", log);
            Assert.DoesNotContain("crit:", log);
            Assert.DoesNotContain("Exception", log);
            Assert.DoesNotMatch(@"(?m)^\s+at \S", log); // no stack frame
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
