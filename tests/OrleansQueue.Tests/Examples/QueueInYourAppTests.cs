using System.Net;
using System.Text.Json;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Examples;

/// <summary>
/// examples/QueueInYourApp, built and run as its own process: an application with its own Orleans silo and routes that
/// added OrleansQueue's grains, mounted the queue's API under /queue, and calls the grains through the co-hosted client.
/// </summary>
public sealed class QueueInYourAppTests
{
    [Fact]
    public async Task TheAppsRoutesAndTheQueuesApiUnderItsPrefixShareOneBudgetAndTheRestOfTheAppIsUntouched()
    {
        using var folder = new TempDirectory("oq-example-");
        string contentRoot = Path.Combine(RepositoryRoot(), "examples", "QueueInYourApp");
        await using var app = await SiloProcess.StartAppAsync(Path.Combine("examples", "QueueInYourApp"), folder.Path, "queue/healthz",
            "--contentRoot", contentRoot);
        using var http = app.CreateClient();
        await AssertServesAsDocumentedAsync(http);
    }

    /// <summary>What the example does, through its own routes and the queue's API under its prefix.</summary>
    internal static async Task AssertServesAsDocumentedAsync(HttpClient http)
    {
        // The resource its appsettings.json defines, read through the queue's API under the app's prefix.
        var resource = await http.Get("/queue/v1/resources/partner-api");
        Assert.Equal(HttpStatusCode.OK, resource.Status);
        Assert.Equal(2, resource.Body.GetProperty("policy").GetProperty("maxConcurrent").GetInt32());

        // The app's own route takes a lease through the co-hosted client.
        var report = await http.Post("/reports/1");
        Assert.Equal(HttpStatusCode.OK, report.Status);
        Assert.Equal(1, report.Body.GetProperty("report").GetInt32());

        // A caller of the HTTP API holds both slots: the app's next report waits in the same queue until one is released.
        long[] held = new long[2];
        for (int i = 0; i < held.Length; i++)
        {
            var lease = await http.Post("/queue/v1/resources/partner-api/acquire", """{"clientId":"batch"}""");
            Assert.Equal(HttpStatusCode.OK, lease.Status);
            Assert.Equal("held", lease.Body.GetProperty("state").GetString());
            held[i] = lease.Body.GetProperty("id").GetInt64();
        }
        var waiting = http.Post("/reports/2");
        var stats = await WaitForAsync(http, s => s.GetProperty("waiting").GetInt32() == 1);
        Assert.Equal(2, stats.GetProperty("leases").GetInt32());
        Assert.False(waiting.IsCompleted);
        Assert.Equal(HttpStatusCode.OK, (await http.Post($"/queue/v1/resources/partner-api/requests/{held[0]}/release")).Status);
        var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, granted.Status);
        Assert.True(granted.Body.GetProperty("fencingToken").GetInt64() > report.Body.GetProperty("fencingToken").GetInt64());

        // The dashboard is served under the prefix, with its script beside it.
        var page = await http.GetAsync("/queue/dashboard");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("src=\"dashboard/app.js\"", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/queue/dashboard/app.js")).StatusCode);

        // Inside the prefix, a path nothing answers gets the queue's problem; outside it, the app's own answers stand.
        (await http.Get("/queue/v2/nothing")).AssertProblem(HttpStatusCode.NotFound, "not-found");
        var outside = await http.GetAsync("/v1/resources");
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        Assert.Empty(await outside.Content.ReadAsByteArrayAsync());
        Assert.Equal("Reports: POST /reports/{id}. The queue: /queue/v1, /queue/dashboard.", await http.GetStringAsync("/"));
    }

    /// <summary>The resource's stats once <paramref name="condition"/> holds (the app's request reaches the grain on its own time).</summary>
    private static async Task<JsonElement> WaitForAsync(HttpClient http, Func<JsonElement, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var stats = await http.Get("/queue/v1/resources/partner-api/stats");
            if (condition(stats.Body) || DateTime.UtcNow > deadline)
                return stats.Body;
            await Task.Delay(20); // polling the app's public API: there is no event to wait on from outside its process
        }
    }

    internal static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "OrleansQueue.sln")))
            root = root.Parent ?? throw new InvalidOperationException("No OrleansQueue.sln above the tests.");
        return root.FullName;
    }
}
