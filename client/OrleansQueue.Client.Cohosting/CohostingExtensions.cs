using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Silo.Grains;
using OrleansQueue.Silo.Hosting;

namespace OrleansQueue.Client;

public static class CohostingExtensions
{
    /// <summary>
    /// Runs an Orleans silo inside this application (its "Silo" configuration section applies: clustering, store, resources,
    /// …) and points the <see cref="OrleansQueueClient"/> at its grains: calls go to the grains in process, grants are
    /// pushed to the client's observer, and a resource active on another silo of the cluster is reached through Orleans.
    /// The embedded default for a single application; move to a standalone silo by replacing this call with
    /// <see cref="ServiceCollectionExtensions.AddOrleansQueueClient"/> and a base address, or an Orleans client.
    /// </summary>
    public static IServiceCollection AddOrleansQueueSilo(this IServiceCollection services, IConfiguration configuration,
        Action<OrleansQueueClientOptions>? configureClient = null)
    {
        services.AddOrleansQueueSiloCore(configuration);
        // Membership says when a silo died: what the client followed on it is followed again where its grains now live.
        services.AddSingleton(sp => new SiloLosses(sp.GetRequiredService<SiloDeaths>().OnSiloDeath));
        services.AddOrleansQueueClient(o => configureClient?.Invoke(o));
        return services;
    }
}
