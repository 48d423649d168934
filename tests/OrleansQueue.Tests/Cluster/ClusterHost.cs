using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansQueue.Scheduling;
using OrleansQueue.Gateway;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// Orleans' <see cref="InProcessTestCluster"/> with OrleansQueue on every silo, over one store all of them share (a
/// store per silo over one database, for PostgreSQL), and failure detection tuned as the silo tunes it for Redis.
/// </summary>
internal sealed class ClusterHost : IAsyncDisposable
{
    private ClusterHost(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }

    /// <param name="clientHost">Adds to the host of the cluster's own Orleans client (<c>Cluster.Client</c>), an external client.</param>
    public static async Task<ClusterHost> StartAsync(int silos = 2, Func<IGrainStore>? storePerSilo = null,
        Action<Microsoft.Extensions.Hosting.IHostApplicationBuilder>? clientHost = null)
    {
        var shared = new InMemoryGrainStore();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Store:Provider"] = "memory",
        }).Build();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSiloHost((_, host) => host.Services.AddSingleton(_ => storePerSilo?.Invoke() ?? shared).AddOrleansQueueGateway());
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddOrleansQueue(configuration.GetSection("Silo"));
            silo.DetectFailuresFast();
        });
        if (clientHost is not null)
            builder.ConfigureClientHost(clientHost);
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new ClusterHost(cluster);
    }

    public InProcessSiloHandle Silo(int index) => Cluster.Silos[index];

    public RequestOperations Requests(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<RequestOperations>();

    public JobOperations Jobs(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<JobOperations>();

    public Task DefineAsync(InProcessSiloHandle silo, string name, ResourcePolicy policy) =>
        silo.ServiceProvider.GetRequiredService<OrleansQueue.Grains.ResourceCatalog>().PutAsync(new ResourceDefinition(name, policy), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
