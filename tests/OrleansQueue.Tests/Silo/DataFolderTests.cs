using System.Net;

namespace OrleansQueue.Tests.Silo;

/// <summary>A second silo process started by mistake on a running silo's data folder.</summary>
public sealed class DataFolderTests : IDisposable
{
    private readonly TempDirectory _folder = new("oq-folder-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task ASecondSiloOnTheSameDataFolderRefusesToStartAndTheFirstGoesOnUntouched()
    {
        await using var first = await SiloProcess.StartAsync(_folder.Path);
        using var http = first.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/mine", """{"maxConcurrent":1,"leaseTtlMs":120000}""")).Status);
        long lease = await http.Acquire("mine", """{"clientId":"a"}""", "held");

        // Another port, the same folder: it must stop before it opens the database.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(_folder.Path));
        Assert.Contains($"The data folder {_folder.Path} is in use by another silo (process {first.ProcessId} on", refused.Message);
        Assert.DoesNotContain("   at ", refused.Message); // the reason, not a stack trace

        // The first silo's resource was never claimed away: its lease is there, and it serves as before (no "moved").
        var (status, held) = await http.Get($"v1/resources/mine/requests/{lease}");
        Assert.Equal((HttpStatusCode.OK, "held"), (status, held.State()));
        Assert.Equal(HttpStatusCode.OK, (await http.Post($"v1/resources/mine/requests/{lease}/release")).Status);
        await http.Acquire("mine", """{"clientId":"b"}""", "held");
        Assert.DoesNotContain("moved", first.Log, StringComparison.OrdinalIgnoreCase);
    }
}
