using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Client;
using OrleansQueue.Grains;

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
    public async Task AClientCoHostedWithItsSiloCallsItInProcessWithoutASocket()
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
}
