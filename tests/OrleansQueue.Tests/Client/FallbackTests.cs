using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>A silo behind a "proxy" that refuses WebSocket upgrades.</summary>
public sealed class NoWebSocketSilo : KestrelSilo
{
    protected override void BeforeSilo(WebApplication app) => app.Use(async (context, next) =>
    {
        if (context.Request.Path == "/v1/ws")
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }
        await next(context);
    });
}

/// <summary>A silo behind a "proxy" that refuses WebSockets and long-polls alike.</summary>
public sealed class PollOnlySilo : KestrelSilo
{
    protected override void BeforeSilo(WebApplication app) => app.Use(async (context, next) =>
    {
        if (context.Request.Path == "/v1/ws" || context.Request.Path.Value!.EndsWith("/wait", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        await next(context);
    });
}

public abstract class FallbackTests(KestrelSilo silo) : IAsyncLifetime
{
    protected static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    protected readonly HttpClient Http = silo.CreateClient();
    protected readonly OrleansQueueClient Client = new(new OrleansQueueClientOptions
    {
        BaseAddress = silo.BaseAddress, ClientId = "fallback", PollInterval = TimeSpan.FromMilliseconds(20),
    });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Client.DisposeAsync();

    protected async Task<Lease> WaitThroughFallback(string resource)
    {
        await Http.CreateResource(resource, """{"maxConcurrent":1}""");
        var held = await Client.AcquireAsync(resource);
        var waiting = Client.AcquireAsync(resource);
        var deadline = DateTime.UtcNow + Generous;
        while ((await Http.Get($"/v1/resources/{resource}/stats")).Body.GetProperty("waiting").GetInt32() != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the second acquire never queued");
            await Task.Delay(10); // no event tells the test that the request is queued
        }
        await held.DisposeAsync();
        return await waiting.WaitAsync(Generous);
    }
}

public sealed class LongPollFallbackTests(NoWebSocketSilo silo) : FallbackTests(silo), IClassFixture<NoWebSocketSilo>
{
    [Fact]
    public async Task WhenWebSocketsAreRefusedTheClientLongPollsWithNoChangeToCallingCode()
    {
        await using var lease = await WaitThroughFallback("fallback-longpoll");

        Assert.Equal(2, lease.FencingToken);
        Assert.False(Client.UsesPush);
    }
}

public sealed class PollingFallbackTests(PollOnlySilo silo) : FallbackTests(silo), IClassFixture<PollOnlySilo>
{
    [Fact]
    public async Task WhenLongPollIsRefusedTooTheClientPolls()
    {
        await using var lease = await WaitThroughFallback("fallback-poll");

        Assert.Equal(2, lease.FencingToken);
        Assert.True(Silo.PrometheusText.Value(await Http.GetStringAsync("/metrics"), "orleansqueue_status_requests_total", "fallback-poll") > 0);
    }
}
