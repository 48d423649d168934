using System.Net;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Dashboard;
using OrleansQueue.Gateway;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Hosting;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Silo;

/// <summary>
/// The standalone silo: an Orleans silo with OrleansQueue's grains (<c>AddOrleansQueue</c>) and its HTTP gateway
/// (<c>MapOrleansQueueApi</c>) at the root, configured from the "Silo" section, plus what a server of its own needs:
/// Kestrel's limits, a loopback-only default, Prometheus metrics, Orleans' own dashboard behind the admin key.
/// </summary>
public static class SiloHostExtensions
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>The configuration section every part of the standalone silo reads.</summary>
    public const string Section = "Silo";

    /// <summary>
    /// Adds the silo to a web application. Without a configured URL it listens on <see cref="DefaultUrl"/>; without API
    /// keys it refuses non-loopback URLs. A configuration that breaks a rule stops it here, naming every setting at fault.
    /// </summary>
    public static WebApplicationBuilder AddOrleansQueueSilo(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(Section);
        var queue = section.Get<OrleansQueueOptions>() ?? new OrleansQueueOptions();
        var gateway = section.Get<GatewayOptions>() ?? new GatewayOptions();
        var clustering = section.GetSection("Clustering").Get<ClusteringOptions>() ?? new ClusteringOptions();
        var telemetry = section.GetSection("Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        var errors = queue.Validate(Section).Concat(gateway.Validate(Section)).Concat(clustering.Validate(Section + ":Clustering"))
            .Concat(telemetry.Validate(Section + ":Telemetry")).ToList();
        if (clustering.InsecurePorts(Section + ":Clustering", Section + ":AllowInsecure", gateway.AllowInsecure) is { } insecure)
            errors.Add(insecure);
        if (clustering.Provider == "redis" && queue.Store.Provider is "sqlite" or "memory")
            errors.Add($"{Section}:Store:Provider \"{queue.Store.Provider}\" cannot be shared by the silos of a cluster: with {Section}:Clustering:Provider \"redis\" use \"redis\" or \"postgres\".");
        if (errors.Count > 0)
            throw new SiloConfigurationException(errors);
        if (queue.Store.Provider == "sqlite")
        {
            // The embedded store is this process's before anything starts: a second silo on the folder stops here, having
            // opened nothing (the store takes the same lock again when it opens, for as long as it is open).
            var folder = DataFolderLock.Take(Path.GetFullPath(queue.Store.Path));
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
        StopNoise.Filter(builder);

        string urls = builder.Configuration["urls"] ?? "";
        if (string.IsNullOrWhiteSpace(urls) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
            builder.WebHost.UseUrls(urls = DefaultUrl);
        var addresses = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"] ?? "")).ToList();
        if (gateway.ApiKeys.Count == 0 && !gateway.AllowInsecure)
            EnsureLoopback(addresses);
        HttpAddressCheck.EnsureFree(addresses);

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = gateway.MaxRequestBodyBytes;
            k.Limits.MaxRequestLineSize = GatewayOptions.KestrelLineBytes;
            k.Limits.MaxRequestHeadersTotalSize = GatewayOptions.KestrelHeaderBytes;
            k.Limits.MaxRequestHeaderCount = GatewayOptions.KestrelHeaderCount;
        });
        // A route or query value that does not bind answers 400 with no body in every environment (not a developer page),
        // which the status-code pages then turn into a problem.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);
        builder.Services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));
        builder.UseOrleans(silo => silo
            .UseOrleansQueueClustering(clustering)
            .AddOrleansQueue(section)
            // A caller's trace context rides on each grain call, so the grain's spans join the caller's trace.
            .AddActivityPropagation()
            // Orleans' own dashboard, mounted behind the admin key (it profiles grain calls only while someone looks).
            .AddDashboard());
        builder.Services.AddOrleansQueueGateway(section);
        builder.Services.AddOrleansQueueOpenApi("v1");
        builder.Services.AddSingleton<OrleansDashboardGate>();
        builder.Services.AddHostedService<StartupSummary>();
        // /metrics: the silo's meter and Orleans' own, in Prometheus text, through OpenTelemetry.
        // Latencies here are sub-millisecond to seconds: the default buckets (0, 5, 10, 25 … s) would put them all in one.
        double[] seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
        var otel = builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(SiloMetrics.MeterName, "Microsoft.Orleans")
                .AddView("orleansqueue_wait_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = seconds })
                .AddView("orleansqueue_store_commit_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = seconds })
                .AddPrometheusExporter();
            if (telemetry.OtlpEndpoint is not null)
            {
                metrics.AddOtlpExporter((exporter, reader) =>
                {
                    Otlp(exporter, telemetry, "metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = telemetry.MetricsIntervalMs;
                });
            }
        });
        // Traces over OTLP when asked for: the gateway's and grains' spans join the callers' traces (W3C context from HTTP
        // headers and WebSocket messages, Orleans' activity propagation between silos).
        if (telemetry.OtlpEndpoint is not null)
        {
            otel.WithTracing(tracing => tracing
                .AddSource(SiloTelemetry.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(o => Otlp(o, telemetry, "traces")));
        }
        return builder;
    }

    private static void Otlp(OpenTelemetry.Exporter.OtlpExporterOptions exporter, TelemetryOptions telemetry, string signal)
    {
        exporter.Endpoint = telemetry.EndpointFor(signal);
        exporter.Protocol = telemetry.OtlpProtocol == TelemetryOptions.HttpProtobuf
            ? OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf
            : OpenTelemetry.Exporter.OtlpExportProtocol.Grpc;
    }

    /// <summary>Maps the silo's endpoints: the gateway at the root (/v1, /dashboard, /healthz, /openapi/v1.json), /metrics,
    /// and Orleans' own dashboard under /orleans.</summary>
    public static WebApplication MapOrleansQueueSilo(this WebApplication app)
    {
        app.MapOrleansQueueApi();
        app.MapPrometheusScrapingEndpoint("/metrics").ExcludeFromDescription();
        app.MapGatedOrleansDashboard();
        StopNoise.Follow(app);
        return app;
    }

    /// <summary>Mounts Orleans' dashboard under <see cref="OrleansDashboardGate.Path"/>, behind the gate: 401 without an admin key or cookie.</summary>
    private static void MapGatedOrleansDashboard(this WebApplication app)
    {
        app.UseWhen(c => c.Request.Path.StartsWithSegments(OrleansDashboardGate.Path), branch => branch.Use(async (context, next) =>
        {
            if (context.RequestServices.GetRequiredService<OrleansDashboardGate>().Admits(context))
                await next(context);
            else
                await HttpResults.Problem(Problem.Unauthorized()).ExecuteAsync(context);
        }));
        Orleans.Dashboard.ServiceCollectionExtensions.MapOrleansDashboard(app, OrleansDashboardGate.Path).ExcludeFromDescription();
    }

    private static void EnsureLoopback(IEnumerable<string> urls)
    {
        foreach (string url in urls.Where(u => u.Length > 0))
        {
            string host = Uri.TryCreate(url.Replace("*", "wildcard").Replace("+", "wildcard"), UriKind.Absolute, out var uri) ? uri.Host : url;
            if (!Loopback.Is(host))
            {
                throw new InvalidOperationException(
                    $"The silo would listen on {url}, beyond loopback, with no API keys: anyone could use it. " +
                    $"Configure {Section}:ApiKeys, or set {Section}:AllowInsecure=true to accept the risk.");
            }
        }
    }
}
