using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Client;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// The SDK over an external Orleans client (the test cluster's own client, connected to the silos' gateways), as an
/// application outside the silos runs it (<c>UseOrleansClient</c> and <c>AddOrleansQueueClient</c> without an address): the same lease API, grants pushed to its observer, and a waiter still pushed its grant after the silo
/// hosting the resource is killed (the client hears of the lost gateway and attaches again, without status polling).
/// </summary>
public sealed class ExternalClientTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AWaiterOfAnExternalClientIsPushedItsGrantAfterTheResourcesSiloIsKilled()
    {
        await using var cluster = await ClusterHost.StartAsync(clientHost: app => app.Services.AddOrleansQueueClient(o => o.ClientId = "external-app"));
        var (doomed, survivor) = (cluster.Silo(1), cluster.Silo(0));
        await cluster.DefineAsync(doomed, "external", new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5), LeaseTtl = TimeSpan.FromMinutes(5), ClaimWindow = TimeSpan.FromMinutes(1),
        });
        // Activate the resource on the silo to be killed: its first call comes from there (placement prefers it).
        var stats = await doomed.ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IResourceAdministration>("external").Stats(new Caller("", IsAdmin: true));
        Assert.Equal(doomed.SiloAddress.ToString(), stats.Value!.Silo);

        var client = cluster.Cluster.Client.ServiceProvider.GetRequiredService<OrleansQueueClient>();
        var holder = await client.AcquireAsync("external");
        var waiting = client.AcquireAsync("external");
        await QueuedAsync(doomed.ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IResourceAdministration>("external"));
        Assert.False(waiting.IsCompleted);

        await cluster.Cluster.KillSiloAsync(doomed);
        await holder.ReleaseAsync();

        await using var granted = await waiting.WaitAsync(Generous);
        Assert.True(granted.FencingToken > holder.FencingToken);
        var after = await survivor.ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IResourceAdministration>("external").Stats(new Caller("", IsAdmin: true));
        Assert.Equal(survivor.SiloAddress.ToString(), after.Value!.Silo);
    }

    /// <summary>The waiter's acquire has reached the grain (it waits there), so the kill finds it queued.</summary>
    private static async Task QueuedAsync(IResourceAdministration grain)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (DateTime.UtcNow < deadline)
        {
            var stats = await grain.Stats(new Caller("", IsAdmin: true));
            if (stats.Value?.Waiting == 1)
                return;
            await Task.Delay(20);
        }
        throw new TimeoutException("the waiter never queued");
    }
}
