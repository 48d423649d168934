using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Client;
using Orleans.Core.Internal;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using JobState = OrleansQueue.Contracts.JobState;
using Priority = OrleansQueue.Contracts.Priority;

namespace OrleansQueue.Tests.Client;

public sealed class CohostingTests : IAsyncLifetime
{
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Store:Provider"] = "memory",
            ["Silo:Resources:embedded:MaxConcurrent"] = "1",
            ["Silo:Resources:embedded:LoadPerWindow"] = "1000",
            ["Silo:Resources:embedded-moves:MaxConcurrent"] = "1",
            ["Silo:Resources:embedded-moves:ClaimWindowMs"] = "60000",
            ["Silo:Resources:embedded-jobs:MaxConcurrent"] = "1",
        });
        builder.Services.AddOrleansQueueSilo(builder.Configuration, client => client.ClientId = "embedded-app");
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Fact]
    public async Task AClientCoHostedWithItsSiloCallsItsGrainsThroughOrleans()
    {
        var client = _host.Services.GetRequiredService<OrleansQueueClient>();

        var first = await client.AcquireAsync("embedded", load: 400);
        var second = client.AcquireAsync("embedded", load: 400, priority: Priority.High);
        Assert.False(second.IsCompleted);
        await first.ReleaseAsync(actualLoad: 100);
        await using var lease = await second.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, lease.FencingToken);
        Assert.True(client.UsesPush);
        await Assert.ThrowsAsync<InvalidLoadException>(() => client.AcquireAsync("embedded", load: 1001));
    }

    [Fact]
    public async Task AWaiterIsStillPushedItsGrantAfterTheResourcesGrainMoved()
    {
        var client = _host.Services.GetRequiredService<OrleansQueueClient>();
        var grains = _host.Services.GetRequiredService<IGrainFactory>();
        var holder = await client.AcquireAsync("embedded-moves");
        var waiting = client.AcquireAsync("embedded-moves");
        await WaitForWaitingAsync(grains, "embedded-moves", 1);

        // The grain leaves (as on rebalancing or a silo stopping): it tells its observers Moved, and the next call
        // activates it again from the store, without the subscriptions it had.
        await grains.GetGrain<IResourceAdministration>("embedded-moves").AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await holder.ReleaseAsync();

        await using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, lease.FencingToken);
    }

    [Fact]
    public async Task AJobIsEnqueuedAndFollowedThroughOrleans()
    {
        var client = _host.Services.GetRequiredService<OrleansQueueClient>();
        var job = await client.EnqueueAsync("embedded-jobs", new { prompt = "hello" });
        Assert.Equal(JobState.Queued, job.State);
        var result = client.WaitForResultAsync("embedded-jobs", job.Id);

        var cancelled = await client.CancelJobAsync("embedded-jobs", job.Id);

        Assert.Equal(JobState.Cancelled, cancelled.State);
        var failed = await Assert.ThrowsAsync<JobFailedException>(() => result.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(JobState.Cancelled, failed.Job.State);
    }

    private static async Task WaitForWaitingAsync(IGrainFactory grains, string resource, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await grains.GetGrain<IResourceAdministration>(resource).Stats(new Caller("default", true))).Value!.Waiting != count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{resource} never had {count} waiting");
            await Task.Delay(10); // the client gives no event when its request is queued; the stats are the witness
        }
    }
}
