using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains.Storage;

namespace Orleans.Hosting;

public static class OrleansQueueSiloBuilderExtensions
{
    /// <summary>
    /// Adds OrleansQueue to an Orleans silo whose clustering is configured elsewhere (an application's own silo, a test
    /// cluster), with its options bound from <paramref name="section"/> (see <see cref="OrleansQueueOptions"/>): the store,
    /// opened before the grains run and closed after the last one deactivated; the resource grains' services; and the
    /// tasks that keep resources going when a silo starts or dies.
    /// </summary>
    public static ISiloBuilder AddOrleansQueue(this ISiloBuilder silo, IConfiguration section)
    {
        silo.Services.Configure<OrleansQueueOptions>(section);
        return silo.AddOrleansQueueServices((section as IConfigurationSection)?.Path ?? "OrleansQueue");
    }

    /// <summary>Adds OrleansQueue to an Orleans silo, with its options set by <paramref name="configure"/> (SQLite under
    /// <c>data/</c> unless it says otherwise).</summary>
    public static ISiloBuilder AddOrleansQueue(this ISiloBuilder silo, Action<OrleansQueueOptions>? configure = null)
    {
        if (configure is not null)
            silo.Services.Configure(configure);
        return silo.AddOrleansQueueServices(nameof(OrleansQueueOptions));
    }

    private static ISiloBuilder AddOrleansQueueServices(this ISiloBuilder silo, string section)
    {
        var services = silo.Services;
        services.AddOptions<OrleansQueueOptions>();
        services.AddSingleton<IValidateOptions<OrleansQueueOptions>>(new OrleansQueueOptionsValidator(section));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var metrics = new SiloMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
            var live = sp.GetRequiredService<LiveResources>();
            metrics.ObserveDepths(() => live.Depths);
            return metrics;
        });
        services.TryAddSingleton<LiveResources>();
        services.TryAddSingleton<IGrainStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OrleansQueueOptions>>().Value.Store;
            var time = sp.GetRequiredService<TimeProvider>();
            return o.Provider switch
            {
                "memory" => new InMemoryGrainStore(),
                "postgres" => new PostgresGrainStore(PostgresConnection.String(o.ConnectionString!, o.ConnectionCaPath), time, sp.GetRequiredService<SiloMetrics>(), sp.GetRequiredService<ILogger<PostgresGrainStore>>(),
                    o.CompactAfter),
                // Keyed by Orleans' service id, so that services sharing one Redis never share resources.
                "redis" => new RedisGrainStore(RedisConnection.Options(o.ConnectionString!, o.ConnectionCaPath), sp.GetRequiredService<ILogger<RedisGrainStore>>(),
                    sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId, o.CompactAfter),
                _ => new SqliteGrainStore(o.Path, o.Synchronous, sp.GetRequiredService<SiloMetrics>(), sp.GetRequiredService<ILogger<SqliteGrainStore>>(),
                    o.CompactAfter),
            };
        });
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreLifetime>();
        services.TryAddSingleton<ResourceCatalog>();
        services.TryAddSingleton<SiloDeaths>();
        services.AddHostedService(sp => sp.GetRequiredService<SiloDeaths>());
        silo.AddStartupTask<ResourceStartup>();
        silo.AddJobStreams();
        return silo;
    }
}
