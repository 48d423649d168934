using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Gateway;
using OrleansQueue.Silo.Grains;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

/// <summary>
/// Opens the store when the silo starts its storage, before any grain runs, and closes it when the silo stops its
/// storage, after every grain has deactivated and written its last commit (Orleans stops its stages in reverse order).
/// </summary>
internal sealed partial class StoreLifetime(IGrainStore store, IOptions<SiloOptions> options,
    ILogger<StoreLifetime> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StoreLifetime), ServiceLifecycleStage.RuntimeStorageServices, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = options.Value.Validate().ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid silo configuration: " + string.Join(" ", errors));
        await store.InitializeAsync(cancellationToken);
        LogStarted(store switch { SqliteGrainStore sqlite => sqlite.Path, PostgresGrainStore => "postgres", RedisGrainStore => "redis", _ => "memory" });
    }

    private async Task StopAsync(CancellationToken cancellationToken) => await store.DisposeAsync();

    [LoggerMessage(LogLevel.Information, "Silo store ready: {Store}")]
    private partial void LogStarted(string store);
}

/// <summary>Once the silo is active: defines the resources the configuration names, and wakes the resources left with work pending.</summary>
internal sealed class ResourceStartup(ResourceCatalog catalog, IOptions<SiloOptions> options) : IStartupTask
{
    public async Task Execute(CancellationToken cancellationToken)
    {
        foreach (var (name, body) in options.Value.Resources)
            await catalog.PutAsync(PolicyMapping.ToDefinition(name, body).Value!, cancellationToken);
        // Left by this silo before it stopped, or by one that died: their timers and grants go on without waiting for a call.
        await catalog.WakeOwnedAsync(owner: null, cancellationToken);
    }
}
