using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansQueue.Silo.Cluster;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Runtime;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// N silos in this process, each on its own loopback port with its own server, runtime and heartbeats, over one shared
/// store: an in-memory store handed to all, or a PostgreSQL database each opens itself. A silo can be killed (it stops
/// at once: no hand-off, no leave, no more writes, its connections cut), stopped gracefully, paused (its heartbeats and
/// internal traffic stop and it acts on nothing, as a frozen process would) and resumed, and silos can be added.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public const int HeartbeatMilliseconds = 100;
    public const int DeadAfterMilliseconds = 1000;

    private readonly InMemoryGrainStore? _memory;
    private readonly string? _postgres;
    private readonly List<TestSilo> _silos = [];

    private TestCluster(InMemoryGrainStore? memory, string? postgres) => (_memory, _postgres) = (memory, postgres);

    /// <summary>The silos started and not killed or stopped.</summary>
    public IReadOnlyList<TestSilo> Silos => _silos.Where(s => !s.IsDown).ToList();

    /// <summary>Starts <paramref name="count"/> silos over an in-memory store, or over a new PostgreSQL database.</summary>
    public static async Task<TestCluster> StartAsync(int count, bool postgres = false)
    {
        var cluster = postgres ? new TestCluster(null, await PostgresServer.CreateDatabaseAsync()) : new TestCluster(new InMemoryGrainStore(), null);
        for (int i = 0; i < count; i++)
            await cluster.AddSiloAsync(waitForMembers: false);
        await cluster.WaitForMembersAsync();
        return cluster;
    }

    /// <summary>Starts one more silo and waits until every live silo sees it.</summary>
    public async Task<TestSilo> AddSiloAsync(bool waitForMembers = true)
    {
        string[] args = _postgres is { } connection
            ? ["--urls", "http://127.0.0.1:0", "--Silo:Store:Provider", "postgres", "--Silo:Store:ConnectionString", connection]
            : ["--urls", "http://127.0.0.1:0", "--Silo:Store:Provider", "memory", "--Silo:Cluster:Shared", "true"];
        var builder = WebApplication.CreateBuilder([.. args,
            "--Silo:Cluster:HeartbeatMilliseconds", HeartbeatMilliseconds.ToString(),
            "--Silo:Cluster:DeadAfterMilliseconds", DeadAfterMilliseconds.ToString()]);
        builder.Logging.SetMinimumLevel(Environment.GetEnvironmentVariable("ORLEANSQUEUE_TEST_LOG") is { Length: > 0 } ? LogLevel.Debug : LogLevel.Warning);
        if (_memory is not null)
            builder.Services.AddSingleton<IGrainStore>(_memory);
        builder.AddOrleansQueueSilo();
        var app = builder.Build();
        app.MapOrleansQueueSilo();
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var silo = new TestSilo(app, new Uri(address.TrimEnd('/') + "/"));
        _silos.Add(silo);
        if (waitForMembers)
            await WaitForMembersAsync();
        return silo;
    }

    /// <summary>Waits until every live, unpaused silo is healthy and sees exactly the live, unpaused silos.</summary>
    public async Task WaitForMembersAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var members = Silos.Where(s => !s.View.Paused).ToList();
            var ids = members.Select(s => s.View.Local.Id).Order(StringComparer.Ordinal).ToList();
            if (members.All(s => s.View.IsHealthy && s.View.Silos.Select(x => x.Id).SequenceEqual(ids)))
                return;
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>The silo whose view places <paramref name="resource"/> on itself.</summary>
    public TestSilo OwnerOf(string resource) => Silos.Single(s => !s.View.Paused && s.View.IsLocal(resource));

    /// <summary>Kills a silo: from this instant it heartbeats, writes and forwards nothing, then its connections are cut.</summary>
    public async Task KillAsync(TestSilo silo)
    {
        silo.View.Paused = true;
        silo.IsDown = true;
        await silo.App.StopAsync(new CancellationToken(canceled: true));
        await silo.App.DisposeAsync();
    }

    /// <summary>Stops a silo gracefully: it leaves the cluster and hands its grains off.</summary>
    public async Task StopAsync(TestSilo silo)
    {
        silo.IsDown = true;
        await silo.App.StopAsync();
        await silo.App.DisposeAsync();
    }

    public static void Pause(TestSilo silo) => silo.View.Paused = true;

    public static void Resume(TestSilo silo) => silo.View.Paused = false;

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in Silos)
        {
            silo.View.Paused = true; // no hand-offs while everything goes down
            await silo.App.StopAsync(new CancellationToken(canceled: true));
            await silo.App.DisposeAsync();
        }
    }
}

public sealed class TestSilo(WebApplication app, Uri baseAddress)
{
    public WebApplication App { get; } = app;
    public Uri BaseAddress { get; } = baseAddress;
    public ClusterView View { get; } = app.Services.GetRequiredService<ClusterView>();
    public GrainRuntime Runtime { get; } = app.Services.GetRequiredService<GrainRuntime>();
    public bool IsDown { get; internal set; }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Whether this silo runs the resource's grain now.</summary>
    public bool Runs(string resource) => Runtime.ActiveResources().Any(a => a.Name == resource);

    public override string ToString() => $"{View.Local.Id} at {BaseAddress}";
}
