namespace OrleansQueue.Tests.Silo;

/// <summary>What a user reads when the silo starts, serves and stops: a few lines that say where it is, no alarm.</summary>
public sealed class QuietLogTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-quiet-");

    public void Dispose() => _folder.Dispose();

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

            string log = silo.Log;
            var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length <= 30, $"{lines.Length} lines:\n{log}");
            Assert.Contains("OrleansQueue silo ready: HTTP on http://127.0.0.1:", log);
            Assert.Contains($"store sqlite at {Path.Combine(_folder.Path, "silo.db")}", log);
            Assert.DoesNotContain("fail:", log);
            Assert.DoesNotContain("warn:", log);
            Assert.DoesNotContain("crit:", log);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
