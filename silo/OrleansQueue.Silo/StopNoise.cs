namespace OrleansQueue.Silo;

/// <summary>
/// The job streams (Orleans memory streams, pulled every 5 ms) have a read of their queue in flight at almost any moment.
/// When the silo stops, Orleans cancels that read and logs the cancellation as an error with its stack trace, once from the
/// memory adapter and once from the pulling agent. Nothing is lost (memory streams keep nothing past their silo, and a
/// job's watchers read it again), so once the silo is stopping those two categories are not shown; before that they show
/// their warnings and errors as every Orleans category does.
/// </summary>
internal sealed class StopNoise
{
    private static readonly string[] Categories = ["Orleans.Providers.MemoryAdapterReceiver", "Orleans.Streams.jobs"];
    private volatile bool _stopping;

    /// <summary>Shows the categories' warnings and errors until the silo stops, when a configuration names neither.</summary>
    public static void Filter(WebApplicationBuilder builder)
    {
        var noise = new StopNoise();
        builder.Services.AddSingleton(noise);
        foreach (string category in Categories)
        {
            if (builder.Configuration[$"Logging:LogLevel:{category}"] is null)
                builder.Logging.AddFilter(category, level => level >= LogLevel.Warning && !noise._stopping);
        }
    }

    /// <summary>From the moment the silo begins to stop.</summary>
    public static void Follow(WebApplication app)
    {
        var noise = app.Services.GetRequiredService<StopNoise>();
        app.Lifetime.ApplicationStopping.Register(() => noise._stopping = true);
    }
}
