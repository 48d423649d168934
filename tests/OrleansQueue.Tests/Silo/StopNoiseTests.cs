using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue.Silo;

namespace OrleansQueue.Tests.Silo;

/// <summary>The job streams' read cancelled by a stop is not shown; their errors before the stop, and every other
/// category's, are.</summary>
public sealed class StopNoiseTests
{
    [Fact]
    public async Task TheJobStreamsReadsAreQuietOnlyOnceTheSiloStops()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        StopNoise.Filter(builder);
        await using var app = builder.Build();
        StopNoise.Follow(app);
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();
        var adapter = loggers.CreateLogger("Orleans.Providers.MemoryAdapterReceiver`1[[Orleans.Providers.DefaultMemoryMessageBodySerializer]].jobs.jobs-1");
        var agent = loggers.CreateLogger("Orleans.Streams.jobs");
        var other = loggers.CreateLogger("Orleans.Streams.PubSub");

        Assert.Equal((true, true, false), (adapter.IsEnabled(LogLevel.Error), agent.IsEnabled(LogLevel.Warning), agent.IsEnabled(LogLevel.Information)));
        app.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        Assert.Equal((false, false, true), (adapter.IsEnabled(LogLevel.Error), agent.IsEnabled(LogLevel.Error), other.IsEnabled(LogLevel.Error)));
    }
}
