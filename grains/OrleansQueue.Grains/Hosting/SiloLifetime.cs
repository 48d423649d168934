using Microsoft.Extensions.Options;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains.Hosting;

/// <summary>
/// Opens the store when the silo starts its storage, before any grain runs, and closes it when the silo stops its
/// storage, after every grain has deactivated and written its last commit (Orleans stops its stages in reverse order).
/// While the store is open the silo beats in it every second: the resources a silo owns were alive until its last beat,
/// so whoever claims them after it died or stopped knows how long nobody ran them (that time does not count against
/// their waits and leases).
/// </summary>
internal sealed partial class StoreLifetime(IGrainStore store, IOptions<OrleansQueueOptions> options, ILocalSiloDetails silo,
    [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time, ILogger<StoreLifetime> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan BeatEvery = TimeSpan.FromSeconds(1);
    private ITimer? _beats;
    private Task _beat = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StoreLifetime), ServiceLifecycleStage.RuntimeStorageServices, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = options.Value; // options that break a rule stop the silo here (their validator names each setting)
        await store.InitializeAsync(cancellationToken);
        await BeatAsync();
        _beats = time.CreateTimer(_ => Beat(), null, BeatEvery, BeatEvery);
        LogStarted(store switch { SqliteGrainStore sqlite => sqlite.Path, PostgresGrainStore => "postgres", RedisGrainStore => "redis", _ => "memory" });
        var settings = options.Value.Store;
        string? clear = settings.Provider switch
        {
            "redis" => RedisConnection.ClearTextHost(RedisConnection.Options(settings.ConnectionString!, null)),
            "postgres" => PostgresConnection.ClearTextHost(settings.ConnectionString!),
            _ => null,
        };
        if (clear is not null)
            LogClearText(clear);
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_beats is not null)
            await _beats.DisposeAsync();
        await _beat;
        await BeatAsync(); // alive until now: the time until the next start is what the resources were down
        await store.DisposeAsync();
    }

    /// <summary>One beat at a time: a store slower than a second skips beats rather than queueing them.</summary>
    private void Beat()
    {
        lock (this)
        {
            if (_beat.IsCompleted)
                _beat = BeatAsync();
        }
    }

    private async Task BeatAsync()
    {
        try
        {
            await store.HeartbeatAsync(silo.SiloAddress.ToString(), time.GetUtcNow().UtcTicks, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Missed beats make a later claim count more of this silo's time as downtime: generous to holders, never unsafe.
            LogBeatFailed(ex);
        }
    }

    [LoggerMessage(LogLevel.Debug, "Silo store ready: {Store}")]
    private partial void LogStarted(string store);

    [LoggerMessage(LogLevel.Warning, "The store's connection to {Host} is not encrypted: leases and payloads cross the network in clear text. " +
        "Use TLS (Redis: ssl=true and a password; PostgreSQL: SSL Mode=VerifyFull) unless the network is this machine's alone.")]
    private partial void LogClearText(string host);

    [LoggerMessage(LogLevel.Warning, "The silo's heartbeat could not be written to the store")]
    private partial void LogBeatFailed(Exception ex);
}

/// <summary>Once the silo is active: defines the resources the configuration names, and wakes the resources left with work pending.</summary>
internal sealed class ResourceStartup(ResourceCatalog catalog, IOptions<OrleansQueueOptions> options) : IStartupTask
{
    public async Task Execute(CancellationToken cancellationToken)
    {
        foreach (var (name, body) in options.Value.Resources)
            await catalog.PutAsync(PolicyMapping.ToDefinition(name, body).Value!, cancellationToken);
        // Left by this silo before it stopped, or by one that died: their timers and grants go on without waiting for a call.
        await catalog.WakeOwnedAsync(owner: null, cancellationToken);
    }
}
