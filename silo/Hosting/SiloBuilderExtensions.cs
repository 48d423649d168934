using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansQueue.Silo.Gateway;
using OrleansQueue.Silo.Grains;
using OrleansQueue.Silo.Observability;
using OpenTelemetry.Metrics;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Hosting;

public static class SiloBuilderExtensions
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// Adds the silo to a web application: options, the store, the Orleans silo, the gateway, metrics. Without a
    /// configured URL the silo listens on <see cref="DefaultUrl"/>; without API keys it refuses non-loopback URLs.
    /// </summary>
    public static WebApplicationBuilder AddOrleansQueueSilo(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var errors = options.Validate().ToList();
        if (errors.Count > 0)
            throw new SiloConfigurationException(errors);
        if (options.Store.Provider == "sqlite")
        {
            // The embedded store is this process's before anything starts: a second silo on the folder stops here, having
            // opened nothing (the store takes the same lock again when it opens, for as long as it is open).
            var folder = DataFolderLock.Take(Path.GetFullPath(options.Store.Path));
            builder.Services.AddSingleton(_ => folder);
        }

        // A healthy start is a few lines (StartupSummary says what a user needs): Orleans' option dumps and placement lines,
        // Polly's and ASP.NET Core's per-request lines are kept for warnings, unless configuration says otherwise.
        // ("Orleans" is a prefix of the silo's own "OrleansQueue" categories too: those stay at Information.)
        // Orleans' watchdog warns at start that its check "has not completed" for as long as the machine has been up (its
        // first check has nothing to compare with): not actionable, so only its errors are shown.
        foreach (var (category, level) in new[] { ("Orleans", LogLevel.Warning), ("Orleans.Runtime.Watchdog", LogLevel.Error), ("OrleansQueue", LogLevel.Information),
            ("Polly", LogLevel.Warning), ("Microsoft.AspNetCore", LogLevel.Warning) })
        {
            if (builder.Configuration[$"Logging:LogLevel:{category}"] is null)
                builder.Logging.AddFilter(category, level);
        }

        string urls = builder.Configuration["urls"] ?? "";
        if (string.IsNullOrWhiteSpace(urls) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
            builder.WebHost.UseUrls(urls = DefaultUrl);
        if (options.ApiKeys.Count == 0 && !options.AllowInsecure)
            EnsureLoopback(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Concat(builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"] ?? "")));

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.Limits.MaxRequestLineSize = SiloOptions.KestrelLineBytes;
            k.Limits.MaxRequestHeadersTotalSize = SiloOptions.KestrelHeaderBytes;
            k.Limits.MaxRequestHeaderCount = SiloOptions.KestrelHeaderCount;
        });
        // A route or query value that does not bind answers 400 with no body in every environment (not a developer page),
        // which the status-code pages then turn into a problem.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);
        // Orleans' own dashboard, mounted behind the admin key (it profiles grain calls only while someone looks).
        builder.Services.AddOrleansQueueSiloCore(builder.Configuration, silo => silo.AddDashboard());
        builder.Services.AddSingleton<OrleansDashboardGate>();
        builder.Services.AddHostedService<StartupSummary>();
        builder.Services.AddOpenApi(OpenApiDocumentation.Configure);
        builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store");
        // /metrics: the silo's meter and Orleans' own, in Prometheus text, through OpenTelemetry.
        // Latencies here are sub-millisecond to seconds: the default buckets (0, 5, 10, 25 … s) would put them all in one.
        double[] seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(SiloMetrics.MeterName, "Microsoft.Orleans")
            .AddView("orleansqueue_wait_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = seconds })
            .AddView("orleansqueue_store_commit_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = seconds })
            .AddPrometheusExporter());
        builder.Services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));
        return builder;
    }

    /// <summary>
    /// Adds the silo without any HTTP server: the Orleans silo with its resource grains over the configured store, the
    /// gateway's operations, for a silo that lives inside an application (whose client calls the grains in process).
    /// </summary>
    public static IServiceCollection AddOrleansQueueSiloCore(this IServiceCollection services, IConfiguration configuration, Action<ISiloBuilder>? configure = null)
    {
        var options = configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        services.AddOrleans(silo =>
        {
            ConfigureClustering(silo, options.Clustering);
            silo.AddOrleansQueue(configuration);
            configure?.Invoke(silo);
        });
        return services;
    }

    /// <summary>
    /// Adds OrleansQueue to an Orleans silo whose clustering is configured elsewhere (a test cluster, an application's
    /// own silo): the store, opened before the grains run and closed after the last one deactivated; the resource
    /// grains' services; the gateway's operations; and the tasks that keep resources going when a silo starts or dies.
    /// </summary>
    public static ISiloBuilder AddOrleansQueue(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.Configure<SiloOptions>(configuration.GetSection(SiloOptions.Section));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var metrics = new SiloMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
            var live = sp.GetRequiredService<LiveResources>();
            metrics.ObserveDepths(() => live.Depths);
            return metrics;
        });
        services.TryAddSingleton<LiveResources>();
        services.TryAddSingleton<IGrainStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SiloOptions>>().Value.Store;
            var time = sp.GetRequiredService<TimeProvider>();
            return o.Provider switch
            {
                "memory" => new InMemoryGrainStore(),
                "postgres" => new PostgresGrainStore(o.ConnectionString!, time, sp.GetRequiredService<SiloMetrics>()),
                // Keyed by the cluster's id, so that clusters sharing one Redis never share resources.
                "redis" => new RedisGrainStore(o.ConnectionString!, sp.GetRequiredService<ILogger<RedisGrainStore>>(),
                    sp.GetRequiredService<IOptions<SiloOptions>>().Value.Clustering.ClusterId),
                _ => new SqliteGrainStore(o.Path, o.Synchronous, sp.GetRequiredService<SiloMetrics>()),
            };
        });
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreLifetime>();
        services.TryAddSingleton<ResourceCatalog>();
        services.TryAddSingleton<ResourceGrains>();
        services.TryAddSingleton<RequestOperations>();
        services.TryAddSingleton<JobOperations>();
        services.TryAddSingleton<ApiKeyAuthenticator>();
        services.TryAddSingleton<TenantStreams>();
        services.TryAddSingleton<TenantCalls>();
        services.TryAddSingleton<SiloDeaths>();
        services.AddHostedService(sp => sp.GetRequiredService<SiloDeaths>());
        silo.AddStartupTask<ResourceStartup>();
        silo.AddJobStreams();
        return silo;
    }

    /// <summary>
    /// Orleans on its own (localhost clustering) or in a cluster whose membership is in Redis, with failure detection tuned
    /// so that a dead silo's resources answer elsewhere within about two seconds.
    /// </summary>
    private static void ConfigureClustering(ISiloBuilder silo, ClusteringOptions clustering)
    {
        int siloPort = clustering.SiloPort == 0 ? FreeLoopbackPort() : clustering.SiloPort;
        if (clustering.Provider == "redis")
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(clustering.ConnectionString!));
            silo.Configure<ClusterOptions>(o => { o.ClusterId = clustering.ClusterId; o.ServiceId = clustering.ClusterId; });
            bool loopback = IPAddress.TryParse(clustering.AdvertisedHost, out var ip) ? IPAddress.IsLoopback(ip) : clustering.AdvertisedHost == "localhost";
            silo.ConfigureEndpoints(clustering.AdvertisedHost, siloPort, clustering.GatewayPort, listenOnAnyHostAddress: !loopback);
            if (clustering.ListenPort != 0)
                silo.Configure<EndpointOptions>(o => o.SiloListeningEndpoint = new IPEndPoint(loopback ? IPAddress.Loopback : IPAddress.Any, clustering.ListenPort));
            silo.DetectFailuresFast();
        }
        else
        {
            silo.UseLocalhostClustering(siloPort, clustering.GatewayPort, serviceId: clustering.ClusterId, clusterId: clustering.ClusterId);
        }
    }

    /// <summary>Maps the silo's endpoints: /v1 (HTTP and WebSocket), /healthz, /metrics, /openapi/v1.json, the dashboard at
    /// /dashboard and Orleans' own under /orleans.</summary>
    public static WebApplication MapOrleansQueueSilo(this WebApplication app)
    {
        app.UseStatusCodePages(HttpResults.ProblemForBareRefusal);
        app.Use(HttpResults.RefuseOversizedRequests);
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        var v1 = app.MapGroup("/v1").RequireApiKey().AnswerFailuresAsProblems();
        v1.MapResourceEndpoints();
        v1.MapRequestEndpoints();
        v1.MapJobEndpoints();
        v1.MapWebSocketEndpoint();
        v1.MapDashboardApi();
        app.MapOperationalEndpoints();
        app.MapDashboardPage();
        app.MapGatedOrleansDashboard();
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
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
