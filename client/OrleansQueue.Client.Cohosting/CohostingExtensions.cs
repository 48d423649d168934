using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Hosting;

namespace OrleansQueue.Client;

public static class CohostingExtensions
{
    /// <summary>
    /// Runs an Orleans silo inside this application (its "Silo" configuration section applies: clustering, store, resources,
    /// …) and points the <see cref="OrleansQueueClient"/> at its grains: calls go to the grains in process, grants are
    /// pushed to the client's observer, and a resource active on another silo of the cluster is reached through Orleans.
    /// The embedded default for a single application; move to a standalone silo by replacing this call with
    /// <see cref="ServiceCollectionExtensions.AddOrleansQueueClient"/> and a base address, or an Orleans client.
    /// An application that runs its own silo adds <c>ISiloBuilder.AddOrleansQueue</c> there and
    /// <see cref="AddOrleansQueueCohostedClient"/> here instead.
    /// </summary>
    public static IServiceCollection AddOrleansQueueSilo(this IServiceCollection services, IConfiguration configuration,
        Action<OrleansQueueClientOptions>? configureClient = null)
    {
        var section = configuration.GetSection("Silo");
        var clustering = section.GetSection("Clustering").Get<ClusteringOptions>() ?? new ClusteringOptions();
        var errors = clustering.Validate("Silo:Clustering").ToList();
        if (clustering.InsecurePorts("Silo:Clustering", "Silo:AllowInsecure", section.GetValue<bool>("AllowInsecure")) is { } insecure)
            errors.Add(insecure);
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid OrleansQueue configuration: " + string.Join(" ", errors));
        services.AddOrleans(silo => silo.UseOrleansQueueClustering(clustering).AddOrleansQueue(section).AddActivityPropagation());
        return services.AddOrleansQueueCohostedClient(configureClient);
    }

    /// <summary>
    /// Points the <see cref="OrleansQueueClient"/> at the grains of the silo this application runs, to which it added
    /// OrleansQueue with <c>ISiloBuilder.AddOrleansQueue</c>.
    /// </summary>
    public static IServiceCollection AddOrleansQueueCohostedClient(this IServiceCollection services, Action<OrleansQueueClientOptions>? configureClient = null)
    {
        // Membership says when a silo died: what the client followed on it is followed again where its grains now live.
        services.AddSingleton(sp => new SiloLosses(sp.GetRequiredService<SiloDeaths>().OnSiloDeath));
        services.AddOrleansQueueClient(o => configureClient?.Invoke(o));
        return services;
    }
}
