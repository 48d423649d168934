using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Gateway;
using OrleansQueue.Silo.Grains;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

/// <summary>
/// Opens the store before Orleans starts, and closes it after Orleans has stopped (its grains' last commits written):
/// it is registered ahead of the Orleans silo, so it starts first and stops last.
/// </summary>
/// <remarks>Takes the exporter so that it listens from the start: measurements made before it exists are lost.</remarks>
internal sealed partial class StoreLifetime(IGrainStore store, PrometheusExporter exporter, IOptions<SiloOptions> options,
    ILogger<StoreLifetime> logger) : IHostedService
{
    private Lazy<Task>? _stopping;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = options.Value.Validate().ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid silo configuration: " + string.Join(" ", errors));
        await store.InitializeAsync(cancellationToken);
        LogStarted(store switch { SqliteGrainStore sqlite => sqlite.Path, PostgresGrainStore => "postgres", _ => "memory" });
    }

    /// <summary>Closes the store once: a host may be stopped twice at once (a test host is stopped by its factory while the
    /// app's own Run() stops it too), and the second call awaits the first.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        var stopping = new Lazy<Task>(async () =>
        {
            await store.DisposeAsync();
            exporter.Dispose();
        });
        return (Interlocked.CompareExchange(ref _stopping, stopping, null) ?? stopping).Value;
    }

    [LoggerMessage(LogLevel.Information, "Silo store ready: {Store}")]
    private partial void LogStarted(string store);
}

/// <summary>Once Orleans runs: defines the resources the configuration names, and wakes the resources left with work pending.</summary>
internal sealed class ResourceStartup(ResourceCatalog catalog, IOptions<SiloOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, body) in options.Value.Resources)
            await catalog.PutAsync(PolicyMapping.ToDefinition(name, body).Value!, cancellationToken);
        // Left by this silo before it stopped, or by one that died: their timers and grants go on without waiting for a call.
        await catalog.WakeOwnedAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
