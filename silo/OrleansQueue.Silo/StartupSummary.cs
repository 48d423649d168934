using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using OrleansQueue.Gateway;
using OrleansQueue.Grains.Hosting;

namespace OrleansQueue.Silo;

/// <summary>
/// One line when the silo is ready, saying what a user needs to start: where it listens, its store, its clustering, whether
/// keys are required, and where the dashboard is. Orleans' own start-up lines are at Warning in appsettings.json, so a
/// healthy start is a few lines, not a few hundred.
/// </summary>
internal sealed partial class StartupSummary(IHostApplicationLifetime lifetime, IServer server, IOptions<OrleansQueueOptions> queue, IOptions<GatewayOptions> gateway, IConfiguration configuration,
    ILogger<StartupSummary> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var o = queue.Value;
            var cluster = configuration.GetSection(SiloHostExtensions.Section + ":Clustering").Get<ClusteringOptions>() ?? new ClusteringOptions();
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            string urls = string.Join(", ", addresses);
            string store = o.Store.Provider == "sqlite" ? $"sqlite at {Path.GetFullPath(o.Store.Path)}" : o.Store.Provider;
            string clustering = (cluster.Provider == "redis" ? $"redis (cluster {cluster.ClusterId})" : "localhost (one silo)")
                + (cluster.Tls.IsEnabled ? ", mutual TLS on the Orleans ports" : "")
                + (cluster.GatewayPort != 0 ? $", Orleans gateway on port {cluster.GatewayPort}" : "");
            string keys = gateway.Value.ApiKeys.Count > 0 ? $"{gateway.Value.ApiKeys.Count} API key(s) required" : "no API keys (loopback only)";
            LogReady(urls, store, clustering, keys, addresses.FirstOrDefault()?.TrimEnd('/') + "/dashboard");
            if (cluster.Provider == "redis" && cluster.ConnectionString is { } membership
                && RedisConnection.ClearTextHost(RedisConnection.Options(membership, null)) is { } host)
                LogMembershipInClear(host);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Warning, "The cluster's membership is reached at {Host} without TLS: who belongs to the cluster crosses the network in clear " +
        "text. Use ssl=true and a password in Silo:Clustering:ConnectionString unless the network is this machine's alone.")]
    private partial void LogMembershipInClear(string host);

    [LoggerMessage(LogLevel.Information, "OrleansQueue silo ready: HTTP on {Urls}; store {Store}; clustering {Clustering}; {Keys}; dashboard at {Dashboard}")]
    private partial void LogReady(string urls, string store, string clustering, string keys, string dashboard);
}
