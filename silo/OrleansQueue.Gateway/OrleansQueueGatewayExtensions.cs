using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansQueue.Gateway;

namespace Microsoft.Extensions.DependencyInjection
{
    public static class OrleansQueueGatewayServiceCollectionExtensions
    {
        /// <summary>
        /// Adds the HTTP gateway's services to an application whose Orleans silo runs OrleansQueue
        /// (<c>ISiloBuilder.AddOrleansQueue</c>), with its options bound from <paramref name="section"/> (see
        /// <see cref="GatewayOptions"/>). Map its endpoints with <c>MapOrleansQueueApi</c>.
        /// </summary>
        public static IServiceCollection AddOrleansQueueGateway(this IServiceCollection services, IConfiguration section)
        {
            services.Configure<GatewayOptions>(section);
            return services.AddOrleansQueueGatewayServices((section as IConfigurationSection)?.Path ?? "OrleansQueue:Gateway");
        }

        /// <summary>Adds the HTTP gateway's services, with its options set by <paramref name="configure"/> (no API keys unless it
        /// names some: every caller is then tenant "default" with admin rights).</summary>
        public static IServiceCollection AddOrleansQueueGateway(this IServiceCollection services, Action<GatewayOptions>? configure = null)
        {
            if (configure is not null)
                services.Configure(configure);
            return services.AddOrleansQueueGatewayServices(nameof(GatewayOptions));
        }

        /// <summary>
        /// Describes the gateway's endpoints (and only them) in an OpenAPI document named <paramref name="documentName"/>, served
        /// by <c>MapOrleansQueueApi</c> at <c>{prefix}/openapi/{documentName}.json</c>.
        /// </summary>
        public static IServiceCollection AddOrleansQueueOpenApi(this IServiceCollection services, string documentName = "orleansqueue")
        {
            services.AddSingleton(new OrleansQueueOpenApiDocument(documentName));
            return services.AddOpenApi(documentName, options =>
            {
                options.ShouldInclude = d => d.ActionDescriptor.EndpointMetadata.OfType<OrleansQueueEndpointMetadata>().Any();
                OpenApiDocumentation.Configure(options);
            });
        }

        private static IServiceCollection AddOrleansQueueGatewayServices(this IServiceCollection services, string section)
        {
            services.AddOptions<GatewayOptions>();
            services.AddSingleton<IValidateOptions<GatewayOptions>>(new GatewayOptionsValidator(section));
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<ResourceGrains>();
            services.TryAddSingleton<RequestOperations>();
            services.TryAddSingleton<JobOperations>();
            services.TryAddSingleton<ApiKeyAuthenticator>();
            services.TryAddSingleton<TenantStreams>();
            services.TryAddSingleton<TenantCalls>();
            services.TryAddSingleton<OrleansQueue.Gateway.Proxy.ProxyUpstreams>();
            services.TryAddSingleton<OrleansQueue.Gateway.Proxy.ProxyJobs>();
            services.AddHostedService(sp => sp.GetRequiredService<OrleansQueue.Gateway.Proxy.ProxyJobs>());
            // Proxied calls stream for minutes: no overall timeout (the caller's disconnect ends one), no automatic decompression
            // (bytes pass through as the upstream sent them).
            services.AddHttpClient(OrleansQueue.Gateway.Proxy.ProxyEndpoints.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
            services.AddHealthChecks().AddCheck<StoreHealthCheck>("orleansqueue-store", tags: [OrleansQueueEndpointMetadata.HealthTag]);
            return services;
        }
    }
}

namespace Microsoft.AspNetCore.Builder
{
    public static class OrleansQueueEndpointRouteBuilderExtensions
    {
        /// <summary>
        /// Maps the gateway under <paramref name="prefix"/> ("" for the root, "/queue" for /queue/v1/…): the API at
        /// <c>/v1</c> (HTTP, WebSocket and server-sent events, behind the API keys), the dashboard at <c>/dashboard</c>, health
        /// at <c>/healthz</c> and, with <c>AddOrleansQueueOpenApi</c>, the OpenAPI document at <c>/openapi/{name}.json</c>.
        /// Nothing outside the prefix is touched: on an application builder (a <c>WebApplication</c>) the gateway's
        /// middleware (WebSocket upgrades, problems for bare refusals and oversized requests) runs for its own paths only;
        /// elsewhere the application adds <c>UseWebSockets</c> itself.
        /// </summary>
        /// <returns>The group of every gateway endpoint, for the application's own conventions (authorization, rate limiting).</returns>
        public static RouteGroupBuilder MapOrleansQueueApi(this IEndpointRouteBuilder endpoints, string prefix = "")
        {
            prefix = "/" + prefix.Trim('/');
            if (prefix == "/")
                prefix = "";
            if (endpoints is IApplicationBuilder app)
            {
                var path = new PathString(prefix);
                app.UseWhen(c => prefix.Length == 0 || c.Request.Path.StartsWithSegments(path), branch =>
                {
                    branch.UseStatusCodePages(status => HttpResults.ProblemForBareRefusal(status, prefix));
                    branch.Use(HttpResults.RefuseOversizedRequests);
                    branch.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
                });
            }
            var root = endpoints.MapGroup(prefix).WithMetadata(OrleansQueueEndpointMetadata.Instance);
            var v1 = root.MapGroup("/v1").RequireApiKey().AnswerFailuresAsProblems();
            v1.MapResourceEndpoints();
            v1.MapRequestEndpoints();
            v1.MapJobEndpoints();
            v1.MapWebSocketEndpoint();
            v1.MapDashboardApi();
            OrleansQueue.Gateway.Proxy.ProxyEndpoints.MapProxyEndpoints(v1);
            root.MapDashboardPage(prefix);
            root.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
            {
                Predicate = check => check.Tags.Contains(OrleansQueueEndpointMetadata.HealthTag),
            }).ExcludeFromDescription();
            if (endpoints.ServiceProvider.GetService<OrleansQueueOpenApiDocument>() is not null)
                root.MapOpenApi("/openapi/{documentName}.json");
            return root;
        }
    }
}

namespace OrleansQueue.Gateway
{
    /// <summary>Marks the gateway's endpoints (the OpenAPI document describes these and no other).</summary>
    internal sealed class OrleansQueueEndpointMetadata
    {
        public const string HealthTag = "orleansqueue";
        public static readonly OrleansQueueEndpointMetadata Instance = new();
    }

    /// <summary>The OpenAPI document the application asked the gateway to describe itself in.</summary>
    internal sealed record OrleansQueueOpenApiDocument(string Name);
}
