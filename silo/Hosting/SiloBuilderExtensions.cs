using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Cluster;
using OrleansQueue.Silo.Gateway;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Runtime;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

public static class SiloBuilderExtensions
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// Adds the silo to a web application: options, the store, the grain runtime, the gateway, metrics. Without a
    /// configured URL the silo listens on <see cref="DefaultUrl"/>; without API keys it refuses non-loopback URLs.
    /// </summary>
    public static WebApplicationBuilder AddOrleansQueueSilo(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var errors = options.Validate().ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid silo configuration: " + string.Join(" ", errors));

        string urls = builder.Configuration["urls"] ?? "";
        if (string.IsNullOrWhiteSpace(urls) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
            builder.WebHost.UseUrls(urls = DefaultUrl);
        if (options.ApiKeys.Count == 0 && !options.AllowInsecure)
            EnsureLoopback(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Concat(builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"] ?? "")));

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
        builder.Services.AddOrleansQueueSiloCore(builder.Configuration);
        builder.Services.Replace(ServiceDescriptor.Singleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SiloOptions>>().Value;
            // A silo clusters when its store is shared: PostgreSQL, or an in-memory store handed to several silos in one process (tests).
            bool clustered = sp.GetRequiredService<IGrainStore>() is IMembershipStore && (o.Store.Provider == "postgres" || o.Cluster.Shared);
            return new ClusterView(new SiloEntry(NewSiloId(), ""), sp.GetRequiredService<TimeProvider>(), o.Cluster.DeadAfter, clustered);
        }));
        builder.Services.TryAddSingleton<PeerConnector>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<SiloOptions>>().Value.Cluster);
        builder.Services.AddHostedService<ClusterMembership>();
        builder.Services.AddOpenApi(o => o.AddOperationTransformer(JsonBodyMetadata.Transform));
        builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store");
        builder.Services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));
        return builder;
    }

    /// <summary>
    /// Adds the silo without any server: the store, the grain runtime, the gateway's operations and an
    /// <see cref="InProcessConnector"/>, for a silo that lives inside an application and is reached without a socket.
    /// </summary>
    public static IServiceCollection AddOrleansQueueSiloCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SiloOptions>(configuration.GetSection(SiloOptions.Section));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SiloMetrics>();
        services.TryAddSingleton<PrometheusExporter>();
        services.TryAddSingleton<IGrainStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SiloOptions>>().Value.Store;
            var time = sp.GetRequiredService<TimeProvider>();
            return o.Provider switch
            {
                "memory" => new InMemoryGrainStore(time),
                "postgres" => new PostgresGrainStore(o.ConnectionString!, time, sp.GetRequiredService<SiloMetrics>()),
                _ => new SqliteGrainStore(o.Path, o.Synchronous, time, sp.GetRequiredService<SiloMetrics>()),
            };
        });
        // Without a server (co-hosted) a silo cannot be reached by others: it runs on its own. AddOrleansQueueSilo clusters it.
        services.TryAddSingleton(_ => ClusterView.Single(NewSiloId()));
        services.TryAddSingleton(sp => new GrainRuntime(
            sp.GetRequiredService<IGrainStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<SiloMetrics>(),
            sp.GetRequiredService<ILogger<GrainRuntime>>(),
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<SiloOptions>>().Value.IdleTimeoutSeconds),
            sp.GetRequiredService<ClusterView>()));
        services.TryAddSingleton<RequestOperations>();
        services.TryAddSingleton<JobOperations>();
        services.TryAddSingleton<ApiKeyAuthenticator>();
        services.TryAddSingleton<InProcessConnector>();
        services.AddHostedService<SiloLifetime>();
        return services;
    }

    /// <summary>Maps the silo's endpoints: /v1 (HTTP and WebSocket), /healthz, /metrics, /openapi/v1.json.</summary>
    public static WebApplication MapOrleansQueueSilo(this WebApplication app)
    {
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        app.UseClusterForwarding();
        var v1 = app.MapGroup("/v1").RequireApiKey().AnswerRefusedCallsAsProblems();
        v1.MapResourceEndpoints();
        v1.MapRequestEndpoints();
        v1.MapJobEndpoints();
        v1.MapWebSocketEndpoint();
        app.MapOperationalEndpoints();
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }

    /// <summary>A silo's id: unique to this process start, so a restarted silo is a new member and never mistaken for its past self.</summary>
    private static string NewSiloId() => $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}".ToLowerInvariant();

    private static void EnsureLoopback(IEnumerable<string> urls)
    {
        foreach (string url in urls.Where(u => u.Length > 0))
        {
            string host = Uri.TryCreate(url.Replace("*", "wildcard").Replace("+", "wildcard"), UriKind.Absolute, out var uri) ? uri.Host : url;
            bool loopback = host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
            if (!loopback)
            {
                throw new InvalidOperationException(
                    $"The silo would listen on {url}, beyond loopback, with no API keys: anyone could use it. " +
                    "Configure Silo:ApiKeys, or set Silo:AllowInsecure=true to accept the risk.");
            }
        }
    }
}
