using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime.Messaging;
using OrleansQueue.Client;
using OrleansQueue.Contracts;
using OrleansQueue.Tests.Cluster;
using OrleansQueue.Tests.Silo;
using OrleansQueue.Tls;

namespace OrleansQueue.Tests.Security;

/// <summary>
/// Silo processes as a secured cluster runs them: API keys on HTTP, mutual TLS on the Orleans ports (silo to silo and the
/// gateway), membership and store on a Redis reached over TLS with a password. Whoever lacks the cluster's certificate
/// reaches no grain: an Orleans client without one, or with one from another CA, is refused at the gateway, and a silo
/// with another CA's certificate never joins; the cluster serves on, and no secret reaches a log.
/// </summary>
public sealed class ClusterSecurityTests : IAsyncLifetime, INeedsRedis
{
    private const string AdminKey = "ops-admin-key-7f3a9c2e5b";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly TestCertificates _cluster = new("cluster");
    private readonly TestCertificates _rogue = new("rogue");
    private readonly TempDirectory _data = new("oq-secured-");
    private readonly List<SiloProcess> _silos = [];
    private readonly string _clusterId = $"secured-{Guid.NewGuid():N}";
    private SecuredRedis _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.SecuredAsync();

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
            await silo.DisposeAsync();
        _data.Dispose();
        _cluster.Dispose();
        _rogue.Dispose();
    }

    [StoreFact]
    public async Task NothingReachesASecuredClustersGrainsWithoutItsCertificate()
    {
        int gatewayPort = PostgresServer.FreePort();
        var first = await StartSiloAsync(_cluster.SiloSettings("silo-1"), "--Silo:Clustering:GatewayPort", gatewayPort.ToString(CultureInfo.InvariantCulture));
        var second = await StartSiloAsync(_cluster.SiloSettings("silo-2"));

        // Over HTTP with the key: a resource made through one silo, used through the other (the grain call between them
        // goes over mutual TLS wherever the grain is).
        using (var http = Keyed(second))
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/secured", """{"maxConcurrent":1,"leaseTtlMs":600000}""")).Status);
        using (var http = Keyed(first))
            Assert.Equal(1, await http.Acquire("secured", """{"clientId":"a"}""", "held"));
        using (var anonymous = first.CreateClient())
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.Get("v1/resources/secured")).Status);

        // An application's Orleans client holding a certificate of the cluster's CA: the SDK queues through it.
        var (certificate, key) = _cluster.Issue("app");
        using (var trusted = await OrleansClientAsync(new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CaPath = _cluster.CaPath }))
        {
            var queue = trusted.Services.GetRequiredService<OrleansQueueClient>();
            var waiting = queue.AcquireAsync("secured", priority: Priority.High);
            using (var http = Keyed(first))
                Assert.Equal(HttpStatusCode.OK, (await http.Post("v1/resources/secured/requests/1/release")).Status);
            await using var lease = await waiting.WaitAsync(Generous);
            Assert.Equal(2, lease.FencingToken);
        }

        // Without a certificate, or with one of another CA, the gateway refuses the connection before any call.
        await Assert.ThrowsAsync<ConnectionFailedException>(() => OrleansClientAsync(null));
        var (rogueCertificate, rogueKey) = _rogue.Issue("intruder-app");
        await Assert.ThrowsAsync<ConnectionFailedException>(() => OrleansClientAsync(
            new OrleansTlsOptions { CertificatePath = rogueCertificate, KeyPath = rogueKey, CaPath = _rogue.CaPath }));
        Assert.Contains("Authentication failed", first.Log, StringComparison.Ordinal); // the gateway's warning, for whoever looks

        // A silo with another CA's certificate, or with none (and the Redis password: the worst case), cannot join: the
        // cluster's silos refuse its connections, so it never passes Orleans' connectivity check and never becomes active.
        int refusedBefore = Refusals(first) + Refusals(second);
        var intruder = Spawn(_rogue.SiloSettings("intruder"));
        await Eventually.True(() => Refusals(first) + Refusals(second) > refusedBefore);
        refusedBefore = Refusals(first) + Refusals(second);
        var plain = Spawn([]);
        await Eventually.True(() => Refusals(first) + Refusals(second) > refusedBefore);
        using (var trusted = await OrleansClientAsync(new OrleansTlsOptions { CertificatePath = certificate, KeyPath = key, CaPath = _cluster.CaPath }))
        {
            var active = await trusted.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            Assert.Equal(2, active.Count);
        }
        using (var http = Keyed(second))
        {
            var (status, stats) = await http.Get("v1/resources/secured/stats");
            Assert.Equal((HttpStatusCode.OK, 2), (status, stats.GetProperty("released").GetInt32()));
        }

        // No secret reached a log: the Redis password, the admin key.
        string password = _redis.ConnectionString.Split("password=")[1];
        foreach (var silo in _silos)
        {
            Assert.DoesNotContain(password, silo.Log, StringComparison.Ordinal);
            Assert.DoesNotContain(AdminKey, silo.Log, StringComparison.Ordinal);
        }
        Assert.False(intruder.Log.Contains("OrleansQueue silo ready", StringComparison.Ordinal), intruder.Log);
        Assert.False(plain.Log.Contains("OrleansQueue silo ready", StringComparison.Ordinal), plain.Log);
    }

    [StoreFact]
    public async Task ASiloCoHostedInAnApplicationJoinsASecuredClusterWithTheClustersCertificate()
    {
        var standalone = await StartSiloAsync(_cluster.SiloSettings("silo-1"));
        using (var http = Keyed(standalone))
            Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/shared", """{"maxConcurrent":1,"leaseTtlMs":600000}""")).Status);

        // The application's Silo section, as the standalone silo reads it: the same clustering, store and TLS settings.
        var (certificate, key) = _cluster.Issue("cohosted");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Clustering:Provider"] = "redis", ["Silo:Clustering:ClusterId"] = _clusterId,
            ["Silo:Clustering:ConnectionString"] = _redis.ConnectionString, ["Silo:Clustering:ConnectionCaPath"] = _redis.CaPath,
            ["Silo:Clustering:Tls:CertificatePath"] = certificate, ["Silo:Clustering:Tls:KeyPath"] = key, ["Silo:Clustering:Tls:CaPath"] = _cluster.CaPath,
            ["Silo:Store:Provider"] = "redis", ["Silo:Store:ConnectionString"] = _redis.ConnectionString, ["Silo:Store:ConnectionCaPath"] = _redis.CaPath,
        });
        builder.Services.AddOrleansQueueSilo(builder.Configuration, client => client.ClientId = "cohosted-app");
        using var app = builder.Build();
        await app.StartAsync().WaitAsync(Generous);
        try
        {
            // Its client reaches the resource, active on the standalone silo, over the cluster's mutual TLS.
            await using (var lease = await app.Services.GetRequiredService<OrleansQueueClient>().AcquireAsync("shared").WaitAsync(Generous))
                Assert.Equal(1, lease.FencingToken);
            var hosts = await app.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            Assert.Equal(2, hosts.Count);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static int Refusals(SiloProcess silo) => silo.Log.Split("Authentication failed").Length - 1;

    private string[] Settings(string[] tls, string[] more) =>
    [
        "--Silo:Clustering:Provider", "redis", "--Silo:Clustering:ClusterId", _clusterId,
        "--Silo:Clustering:ConnectionString", _redis.ConnectionString, "--Silo:Clustering:ConnectionCaPath", _redis.CaPath,
        "--Silo:Store:Provider", "redis", "--Silo:Store:ConnectionString", _redis.ConnectionString, "--Silo:Store:ConnectionCaPath", _redis.CaPath,
        "--Silo:ApiKeys:0:Key", AdminKey, "--Silo:ApiKeys:0:Tenant", "ops", "--Silo:ApiKeys:0:Admin", "true",
        .. tls, .. more,
    ];

    private async Task<SiloProcess> StartSiloAsync(string[] tls, params string[] more)
    {
        var silo = await SiloProcess.StartAsync(Folder(), null, Settings(tls, more));
        _silos.Add(silo);
        return silo;
    }

    private SiloProcess Spawn(string[] tls)
    {
        var silo = SiloProcess.Spawn(Folder(), Settings(tls, []));
        _silos.Add(silo);
        return silo;
    }

    private string Folder() => Directory.CreateDirectory(Path.Combine(_data.Path, $"silo-{_silos.Count}")).FullName;

    private static HttpClient Keyed(SiloProcess silo)
    {
        var http = silo.CreateClient();
        http.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
        return http;
    }

    /// <summary>An Orleans client of the cluster (membership from the secured Redis), with <paramref name="tls"/> or none;
    /// started, or the exception its start ended with.</summary>
    private async Task<IHost> OrleansClientAsync(OrleansTlsOptions? tls)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = _redis.Options());
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (_clusterId, _clusterId));
            if (tls is not null)
                client.UseOrleansQueueTls(tls);
            client.Services.AddOrleansQueueClient(o => o.ClientId = "app");
            // A refused connection is the answer here, not a reason to try again for minutes.
            client.UseConnectionRetryFilter((_, _) => Task.FromResult(false));
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(Generous);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}
