using OrleansQueue.Client;
using OrleansQueue.Tests.Client;

namespace OrleansQueue.LoadTest;

/// <summary>
/// A fleet of callers shares a fake upstream whose hidden limit is half the resource's configured one; each caller
/// acquires, calls the upstream, and releases with its answer (<c>lease.ReleaseAsync(response)</c>), waiting out a 429's
/// retry-after on its own. The same fleet for the same time with <c>adaptive</c> off, headers and aimd: 429s per 1,000
/// calls, and how much of the upstream's real limit the fleet used.
/// </summary>
internal static class UpstreamSuite
{
    private const int Callers = 40, HiddenLimit = 50;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    public static async Task RunAsync(Settings settings, Report report)
    {
        Progress.Step("upstream: starting a silo");
        string data = Directory.CreateTempSubdirectory("oq-upstream-").FullName;
        await using var silo = await SiloProcess.StartAsync("--urls", "http://127.0.0.1:0", "--Silo:Store:Path", Path.Combine(data, "silo.db"));
        using var admin = new HttpClient { BaseAddress = silo.Address };
        var seconds = TimeSpan.FromSeconds(settings.Seconds * 2);
        var rows = new List<string>();
        foreach (string mode in new[] { "off", "headers", "aimd" })
        {
            Progress.Step($"upstream: {Callers} callers for {seconds.TotalSeconds:0} s, adaptive {mode}");
            await MainSuite.Put(admin, "upstream-" + mode,
                $$"""{"requestsPerWindow":{{HiddenLimit * 2}},"windowMs":{{(long)Window.TotalMilliseconds}},"defaultMaxWaitMs":60000,"adaptive":"{{mode}}"}""");
            await using var upstream = new FakeUpstream(HiddenLimit, Window);
            await upstream.StartAsync();
            await RunFleetAsync(silo.Address, "upstream-" + mode, upstream, seconds);
            int calls = upstream.Accepted + upstream.Refused;
            double utilisation = upstream.Accepted / (HiddenLimit * seconds.TotalSeconds / Window.TotalSeconds);
            rows.Add($"| {mode} | {calls:N0} | {upstream.Refused:N0} | {1000.0 * upstream.Refused / calls:0.0} | {upstream.RefusedAfterTheFirstWindow:N0} | {upstream.Accepted / seconds.TotalSeconds:0.0} | {utilisation:P0} |");
        }
        report.Section($"""
            ## Budgets that learn from the upstream

            {Callers} callers share a fake upstream (loopback HTTP) whose hidden limit is {HiddenLimit} calls per sliding second; the
            resource's configured limit is twice that ({HiddenLimit * 2} per second). Each caller acquires, calls the upstream,
            releases with its answer, and on a 429 waits out its retry-after before trying again; {seconds.TotalSeconds:0} s per mode,
            SQLite store. Utilisation is the calls the upstream accepted over what its limit allows in the time (the floor here
            is the upstream itself: 100 % with no 429 is the best any coordinator can do).

            | adaptive | calls | 429s | 429s per 1,000 calls | 429s after the first second | accepted per s | upstream utilisation |
            | --- | ---: | ---: | ---: | ---: | ---: | ---: |
            {string.Join("\n", rows)}
            """);
    }

    private static async Task RunFleetAsync(Uri silo, string resource, FakeUpstream upstream, TimeSpan duration)
    {
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo, ClientId = "fleet" });
        using var calls = new HttpClient();
        var end = DateTime.UtcNow + duration;
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async caller =>
        {
            while (DateTime.UtcNow < end)
            {
                var lease = await client.AcquireAsync(resource, clientId: $"caller-{caller}");
                using var response = await calls.GetAsync(upstream.Address);
                await lease.ReleaseAsync(response);
                if ((int)response.StatusCode == 429)
                    await Task.Delay(TimeSpan.FromMilliseconds(long.Parse(response.Headers.GetValues("retry-after-ms").Single())));
            }
        }));
    }
}
