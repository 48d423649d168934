using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// One Orleans silo in this process with the resource grains, no HTTP: the schedulers' clock is a <see cref="ManualClock"/>
/// (Orleans itself keeps real time), and the store is whatever the test hands in.
/// </summary>
internal sealed class GrainHost : IAsyncDisposable
{
    private readonly IHost _host;

    private GrainHost(IHost host) => _host = host;

    public ManualClock Clock { get; private init; } = null!;
    public IGrainStore Store => _host.Services.GetRequiredService<IGrainStore>();
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();
    public LiveResources Live => _host.Services.GetRequiredService<LiveResources>();
    public ResourceCatalog Catalog => _host.Services.GetRequiredService<ResourceCatalog>();

    public static async Task<GrainHost> StartAsync(IGrainStore? store = null, int idleTimeoutSeconds = 60)
    {
        var clock = new ManualClock();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Store:Provider"] = "memory",
            ["Silo:IdleTimeoutSeconds"] = idleTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Services.AddKeyedSingleton<TimeProvider>(TimeProviderNames.Grains, clock); // the grains' clock: schedulers and grain timers
        if (store is not null)
            builder.Services.AddSingleton(store);
        builder.UseOrleans(silo => silo.UseOrleansQueueClustering(new ClusteringOptions()).AddOrleansQueue(builder.Configuration.GetSection("Silo")));
        var host = builder.Build();
        await host.StartAsync();
        return new GrainHost(host) { Clock = clock };
    }

    public ResourceGrainReference Resource(string name) => ResourceGrainReference.Of(Grains, name);

    public Task DefineAsync(string name, ResourcePolicy policy, bool push = true) =>
        Catalog.PutAsync(new ResourceDefinition(name, policy, push), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>An observer that keeps every update it is pushed, registered with the silo for as long as it lives.</summary>
public sealed class RecordingObserver : IResourceObserver, IDisposable
{
    private readonly System.Threading.Channels.Channel<RequestUpdate> _updates = System.Threading.Channels.Channel.CreateUnbounded<RequestUpdate>();
    private readonly IGrainFactory _grains;

    public RecordingObserver(IGrainFactory grains)
    {
        _grains = grains;
        Reference = grains.CreateObjectReference<IResourceObserver>(this);
    }

    public IResourceObserver Reference { get; }

    public Task OnUpdate(RequestUpdate update)
    {
        _updates.Writer.TryWrite(update);
        return Task.CompletedTask;
    }

    public async Task<RequestUpdate> NextAsync() => await _updates.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

    public bool TryNext(out RequestUpdate? update) => _updates.Reader.TryRead(out update);

    public void Dispose() => _grains.DeleteObjectReference<IResourceObserver>(Reference);
}
