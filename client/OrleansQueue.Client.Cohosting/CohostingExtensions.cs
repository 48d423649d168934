using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Hosting;

namespace OrleansQueue.Client;

public static class CohostingExtensions
{
    /// <summary>
    /// Runs a silo inside this application (its "Silo" configuration section applies: store, resources, …) and points
    /// the <see cref="OrleansQueueClient"/> at it in process: no socket, no port, the same protocol. The embedded
    /// default for a single application; move to a standalone silo by replacing this call with
    /// <see cref="ServiceCollectionExtensions.AddOrleansQueueClient"/> and a base address.
    /// </summary>
    public static IServiceCollection AddOrleansQueueSilo(this IServiceCollection services, IConfiguration configuration,
        Action<OrleansQueueClientOptions>? configureClient = null)
    {
        services.AddOrleansQueueSiloCore(configuration);
        services.AddOrleansQueueClient(o => configureClient?.Invoke(o));
        services.AddOptions<OrleansQueueClientOptions>().Configure<InProcessConnector>((o, connector) => o.ConnectWebSocket = connector.ConnectAsync);
        return services;
    }
}
