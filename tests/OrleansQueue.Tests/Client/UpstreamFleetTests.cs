using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// A fleet of callers shares one upstream whose real limit is lower than the resource's configured one. Each caller reports
/// the upstream's answer in one line (<c>lease.ReleaseAsync(response)</c>); an adaptive resource then keeps the fleet within
/// the upstream's limit, where the configured limit alone lets every caller hit 429 again and again.
/// </summary>
public sealed class UpstreamFleetTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private const int Callers = 30;
    private const int CallsEach = 3;
    private readonly HttpClient _http = silo.CreateClient();

    [Fact]
    public async Task WithHeadersAFleetStaysWithinTheUpstreamsHiddenLimitAfterItsFirst429sFewerThanItsCallers()
    {
        var (throttled, late) = await RunFleet("fleet-headers", """{"adaptive":"headers"}""");

        Assert.True(throttled < Callers, $"{throttled} 429s for {Callers} callers");
        // After the first burst (the fleet went at once, before anyone had heard from the upstream), never over again.
        Assert.True(late == 0, $"{late} calls refused after the first window ({throttled} in all)");
    }

    [Fact]
    public async Task WithAimdTheSameFleetHitsTheUpstreamsLimitLessOftenThanWithAdaptiveOff()
    {
        var (offThrottled, offLate) = await RunFleet("fleet-off", "{}");
        var (aimdThrottled, aimdLate) = await RunFleet("fleet-aimd", """{"adaptive":"aimd","aimdDecrease":0.5,"aimdIncrease":0.05}""");

        Assert.True(offLate > 0, "with adaptive off the fleet never went over the limit again: the comparison proves nothing");
        Assert.True(aimdThrottled < offThrottled,
            $"aimd: {aimdThrottled} 429s ({aimdLate} after the first window); off: {offThrottled} ({offLate})");
    }

    /// <summary>Each caller makes its calls under a lease, retrying a 429 after the upstream's retry-after; returns the 429s seen.</summary>
    private async Task<(int Throttled, int Late)> RunFleet(string resource, string adaptive)
    {
        await using var upstream = new FakeUpstream(limit: 20, TimeSpan.FromSeconds(1));
        await upstream.StartAsync();
        // The configured limit is half as much again as the upstream's real one.
        var policy = System.Text.Json.Nodes.JsonNode.Parse(adaptive)!.AsObject();
        policy["requestsPerWindow"] = 30;
        policy["windowMs"] = 1000;
        policy["defaultMaxWaitMs"] = 60000;
        await _http.CreateResource(resource, policy.ToJsonString());

        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "fleet" });
        using var calls = new HttpClient();
        int throttled = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async caller =>
        {
            for (int done = 0; done < CallsEach;)
            {
                Assert.True(DateTime.UtcNow < deadline, "the fleet never finished");
                var lease = await client.AcquireAsync(resource, clientId: $"caller-{caller}");
                using var response = await calls.GetAsync(upstream.Address);
                await lease.ReleaseAsync(response); // the one line that reports the upstream's answer
                if ((int)response.StatusCode == 429)
                {
                    Interlocked.Increment(ref throttled);
                    // A caller on its own honours the upstream's retry-after too (with adaptive off, that is all there is).
                    await Task.Delay(TimeSpan.FromMilliseconds(long.Parse(response.Headers.GetValues("retry-after-ms").Single())));
                }
                else
                {
                    done++;
                }
            }
        }));
        Assert.Equal(Callers * CallsEach, upstream.Accepted);
        Assert.Equal(upstream.Refused, throttled);
        var stats = (await _http.Get($"/v1/resources/{resource}/stats")).Body;
        if (stats.TryGetProperty("adaptive", out var state))
            Assert.Equal(throttled, state.GetProperty("throttles").GetInt64());
        return (throttled, upstream.RefusedAfterTheFirstWindow);
    }
}
