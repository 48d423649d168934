using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

public sealed class ClientScaleAndOptionsTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    [Fact]
    public async Task TwoThousandConcurrentAcquiresShareOneConnectionAndAreAllGranted()
    {
        var http = silo.CreateClient();
        await http.CreateResource("client-scale", """{"maxConcurrent":20,"maxQueuedPerClient":5000,"defaultMaxWaitMs":120000}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress });

        var all = Enumerable.Range(0, 2000).Select(async i =>
        {
            await using var lease = await client.AcquireAsync("client-scale", load: 1, clientId: "c" + (i % 10));
            return lease.FencingToken;
        }).ToList();
        var tokens = await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(2000, tokens.Distinct().Count());
        Assert.True(client.UsesPush);
        var stats = (await http.Get("/v1/resources/client-scale/stats")).Body;
        Assert.Equal(0, stats.GetProperty("leases").GetInt32());
        Assert.Equal(2000, stats.GetProperty("released").GetInt64());
    }

    [Fact]
    public void TheDiRegistrationRefusesInvalidOptionsNamingEachRule()
    {
        var services = new ServiceCollection();
        services.AddOrleansQueueClient(o =>
        {
            o.BaseAddress = new Uri("/relative", UriKind.Relative);
            o.PollInterval = TimeSpan.Zero;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<OrleansQueueClient>());

        Assert.Contains(error.Failures, f => f.Contains("BaseAddress"));
        Assert.Contains(error.Failures, f => f.Contains("PollInterval"));
    }

    [Fact]
    public async Task TheDiRegistrationGivesOneSharedClient()
    {
        var services = new ServiceCollection();
        services.AddOrleansQueueClient(o => o.BaseAddress = silo.BaseAddress);
        await using var provider = services.BuildServiceProvider();

        Assert.Same(provider.GetRequiredService<OrleansQueueClient>(), provider.GetRequiredService<OrleansQueueClient>());
    }
}
