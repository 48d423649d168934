using System.Net;
using Orleans.Configuration;
using OrleansQueue.Tls;

namespace OrleansQueue.Grains.Hosting;

/// <summary>Orleans clustering for a silo OrleansQueue sets up itself (the standalone silo, a co-hosted one): one silo on
/// its own (localhost), or a cluster whose membership lives in Redis. A silo configured elsewhere does not use these.</summary>
public sealed class ClusteringOptions
{
    /// <summary>"localhost" (one silo: the default) or "redis" (a cluster; needs a store the silos share).</summary>
    public string Provider { get; set; } = "localhost";

    /// <summary>The Redis server that keeps the membership, with the redis provider: StackExchange.Redis options, e.g.
    /// <c>127.0.0.1:6379</c>, or <c>redis:6380,ssl=true,password=…</c> over TLS with a password.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>A PEM file with the CA that issued the Redis server's certificate, when it is not one the system trusts
    /// (with <c>ssl=true</c> in <see cref="ConnectionString"/>; the server's name is checked against its certificate).</summary>
    public string? ConnectionCaPath { get; set; }

    /// <summary>The cluster's name: silos with the same id form one cluster (it is also Orleans' service id, which keys
    /// the Redis store).</summary>
    /// <value>The default value is <c>orleansqueue</c>.</value>
    public string ClusterId { get; set; } = "orleansqueue";

    /// <summary>The port silos talk to each other on (0: any free port, for a silo on its own).</summary>
    /// <value>The default value is 11111.</value>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port this silo listens on for other silos, when it is not the <see cref="SiloPort"/> it advertises:
    /// behind a port mapping (a container's published port, a NAT, a proxy). 0: it listens on <see cref="SiloPort"/>.</summary>
    public int ListenPort { get; set; }

    /// <summary>The address other silos and Orleans clients reach this silo at: an IP address or a host name that resolves
    /// to one (a container's name). Beyond loopback the silo listens on every interface.</summary>
    /// <value>The default value is <c>127.0.0.1</c>.</value>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>The port Orleans clients connect to (0: none; HTTP clients need none). Orleans clients are trusted as tenant
    /// <c>default</c> with admin rights: beyond loopback, open it only with <see cref="Tls"/>.</summary>
    /// <value>The default value is 0: no Orleans gateway.</value>
    public int GatewayPort { get; set; }

    /// <summary>Mutual TLS on the Orleans ports (silo to silo and the gateway): off unless a certificate is named. Required
    /// when the ports listen beyond loopback, unless the silo is told to allow it insecure.</summary>
    public OrleansTlsOptions Tls { get; set; } = new();

    /// <summary>Whether the Orleans ports listen beyond loopback, where others can reach them.</summary>
    public bool ListensBeyondLoopback => Provider == "redis" && !Loopback.Is(AdvertisedHost);

    /// <summary>The rules these options break, each naming its setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (Provider is not ("localhost" or "redis"))
            yield return $"{section}:Provider must be \"localhost\" or \"redis\"; it is \"{Provider}\".";
        if (Provider == "redis" && string.IsNullOrWhiteSpace(ConnectionString))
            yield return $"{section}:ConnectionString is required with the redis provider (host:port, e.g. 127.0.0.1:6379).";
        if (SiloPort is < 0 or > 65535)
            yield return $"{section}:SiloPort must be between 0 (any free port) and 65535; it is {SiloPort}.";
        if (ListenPort is < 0 or > 65535)
            yield return $"{section}:ListenPort must be between 0 (the same as SiloPort) and 65535; it is {ListenPort}.";
        if (GatewayPort is < 0 or > 65535)
            yield return $"{section}:GatewayPort must be between 0 (no Orleans gateway) and 65535; it is {GatewayPort}.";
        if (string.IsNullOrWhiteSpace(AdvertisedHost))
            yield return $"{section}:AdvertisedHost must name this silo's address (an IP address or a host name).";
        if (string.IsNullOrWhiteSpace(ClusterId))
            yield return $"{section}:ClusterId must not be empty.";
        if (!string.IsNullOrWhiteSpace(ConnectionCaPath) && !File.Exists(ConnectionCaPath))
            yield return $"{section}:ConnectionCaPath: no such file \"{ConnectionCaPath}\".";
        foreach (string error in Tls.Validate(section + ":Tls"))
            yield return error;
    }

    /// <summary>The refusal of Orleans ports open beyond loopback without TLS, where anyone who reaches them could join the
    /// cluster or call every grain as an admin; null when the ports are on loopback, have TLS, or the risk is accepted.</summary>
    public string? InsecurePorts(string section, string allowInsecureSetting, bool allowInsecure) =>
        ListensBeyondLoopback && !Tls.IsEnabled && !allowInsecure
            ? $"The silo's Orleans ports ({(SiloPort == 0 ? "a free silo port" : $"silo port {SiloPort}")}{(GatewayPort != 0 ? $", gateway port {GatewayPort}" : "")}) would listen beyond loopback " +
              $"({section}:AdvertisedHost \"{AdvertisedHost}\") without TLS: anyone who reaches them could join the cluster or call every resource " +
              $"as an admin. Configure {section}:Tls (a certificate and the CA to trust), or set {allowInsecureSetting}=true to accept the risk."
            : null;
}

/// <summary>Whether a host name or address is this machine's loopback (where no one else can reach).</summary>
internal static class Loopback
{
    public static bool Is(string host) => host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}

public static class OrleansQueueClusteringExtensions
{
    /// <summary>
    /// Orleans on its own (localhost clustering) or in a cluster whose membership is in Redis, with failure detection tuned
    /// so that a dead silo's resources answer elsewhere within about two seconds.
    /// </summary>
    public static ISiloBuilder UseOrleansQueueClustering(this ISiloBuilder silo, ClusteringOptions clustering)
    {
        int siloPort = clustering.SiloPort == 0 ? FreeLoopbackPort() : clustering.SiloPort;
        if (clustering.Provider == "redis")
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisConnection.Options(clustering.ConnectionString!, clustering.ConnectionCaPath));
            silo.Configure<ClusterOptions>(o => { o.ClusterId = clustering.ClusterId; o.ServiceId = clustering.ClusterId; });
            bool loopback = Loopback.Is(clustering.AdvertisedHost);
            silo.ConfigureEndpoints(clustering.AdvertisedHost, siloPort, clustering.GatewayPort, listenOnAnyHostAddress: !loopback);
            if (clustering.ListenPort != 0)
                silo.Configure<EndpointOptions>(o => o.SiloListeningEndpoint = new IPEndPoint(loopback ? IPAddress.Loopback : IPAddress.Any, clustering.ListenPort));
            silo.DetectFailuresFast();
        }
        else
        {
            silo.UseLocalhostClustering(siloPort, clustering.GatewayPort, serviceId: clustering.ClusterId, clusterId: clustering.ClusterId);
        }
        if (clustering.Tls.IsEnabled)
            silo.UseOrleansQueueTls(clustering.Tls, "Clustering:Tls");
        return silo;
    }

    /// <summary>
    /// Failure detection tuned so that a killed silo's resources answer elsewhere within about two seconds (Orleans'
    /// defaults take 10 to 15).
    /// </summary>
    public static ISiloBuilder DetectFailuresFast(this ISiloBuilder silo) => silo.Configure<ClusterMembershipOptions>(o =>
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        // A silo that sent anything within MaxProbeTimeout x NumMissedProbesLimit is never suspected: at the
        // default 4 s that window alone would hold a frozen silo's resources for 8 s.
        o.MaxProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 2;
        o.NumVotesForDeathDeclaration = 1;
        o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
    });

    /// <summary>A port free on loopback now (Orleans needs a port it can advertise, so it cannot bind port 0 itself).</summary>
    private static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
