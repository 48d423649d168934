namespace OrleansQueue.Tests.Silo;

/// <summary>What a user reads when the silo starts, serves and stops: a few lines that say where it is, no alarm.</summary>
public sealed class QuietLogTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-quiet-");

    public void Dispose() => _folder.Dispose();

    /// <summary>Reads a ticket's event stream until <paramref name="stop"/> (the caller leaving), then drops it.</summary>
    private static async Task FollowAsync(SiloProcess silo, string path, TaskCompletionSource attached, CancellationToken stop)
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
        finally
        {
            attached.TrySetResult();
        }
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
}
