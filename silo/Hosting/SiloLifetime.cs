using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Gateway;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Runtime;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

/// <summary>Opens the store before the server takes requests; on shutdown, ends every activation and closes the store.</summary>
/// <remarks>Takes the exporter so that it listens from the start: measurements made before it exists are lost.</remarks>
internal sealed partial class SiloLifetime(IGrainStore store, GrainRuntime runtime, PrometheusExporter exporter, IOptions<SiloOptions> options,
    ILogger<SiloLifetime> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = options.Value.Validate().ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid silo configuration: " + string.Join(" ", errors));
        await store.InitializeAsync(cancellationToken);
        foreach (var (name, body) in options.Value.Resources)
            await runtime.PutResourceAsync(PolicyMapping.ToDefinition(name, body).Value!, cancellationToken);
        // On its own, the silo takes back at once the grains it left with work pending (a cluster does this on joining).
        if (!runtime.Cluster.IsClustered)
            await runtime.RebalanceAsync(cancellationToken);
        LogStarted(store switch { SqliteGrainStore sqlite => sqlite.Path, PostgresGrainStore => "postgres", _ => "memory" });
    }

    private Lazy<Task>? _stopping;

    /// <summary>Ends the activations, then closes the store, once: a host may be stopped twice at once (a test host is
    /// stopped by its factory while the app's own Run() stops it too), and the second call awaits the first.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        var stopping = new Lazy<Task>(async () =>
        {
            await runtime.DisposeAsync();
            await store.DisposeAsync();
            exporter.Dispose();
        });
        return (Interlocked.CompareExchange(ref _stopping, stopping, null) ?? stopping).Value;
    }

    [LoggerMessage(LogLevel.Information, "Silo store ready: {Store}")]
    private partial void LogStarted(string store);
}
