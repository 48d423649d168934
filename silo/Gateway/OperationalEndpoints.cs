using Microsoft.Extensions.Options;
using OrleansQueue.Silo.Cluster;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Observability;

namespace OrleansQueue.Silo.Gateway;

public static class OperationalEndpoints
{
    /// <summary>/healthz (the store answers) and /metrics (Prometheus text format). Neither needs a key.</summary>
    public static WebApplication MapOperationalEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/healthz");
        app.MapGet("/metrics", (PrometheusExporter exporter) =>
            Results.Text(exporter.Render(), "text/plain; version=0.0.4; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    /// <summary>GET /v1/ws upgrades to the WebSocket session that the .NET client uses.</summary>
    public static RouteGroupBuilder MapWebSocketEndpoint(this RouteGroupBuilder v1)
    {
        v1.MapGet("/ws", async (HttpContext context, RequestOperations operations, JobOperations jobs, IOptions<SiloOptions> options, ClusterView view) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
                return HttpResults.Problem(Problem.Invalid("Upgrade", "GET /v1/ws must be a WebSocket upgrade request."));
            if (!view.IsHealthy)
                return HttpResults.Problem(Problem.Moved("This silo is not in touch with the cluster now; connect to another."));
            SessionRouting? routing = null;
            if (view.IsClustered)
            {
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (string name in new[] { ApiKeyAuthenticator.Header, "Authorization" })
                {
                    if (context.Request.Headers.TryGetValue(name, out var value))
                        headers[name] = value.ToString();
                }
                routing = new SessionRouting(view, context.RequestServices.GetRequiredService<PeerConnector>(), headers,
                    context.Request.Headers.ContainsKey(PeerConnector.ForwardedHeader));
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var session = new WebSocketSession(socket, context.Caller(), operations, jobs, options.Value.MaxRequestBodyBytes, routing);
            await session.RunAsync(context.RequestAborted);
            return Results.Empty;
        }).WithTags("WebSocket").WithSummary("The WebSocket session: every operation as JSON messages, with pushed updates.");
        return v1;
    }
}
