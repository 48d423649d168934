using Microsoft.Extensions.Options;
using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

internal static class WebSocketEndpoint
{
    /// <summary>GET /v1/ws upgrades to the WebSocket session that the .NET client uses.</summary>
    public static RouteGroupBuilder MapWebSocketEndpoint(this RouteGroupBuilder v1)
    {
        v1.MapGet("/ws", async (HttpContext context, RequestOperations operations, JobOperations jobs, IOptions<GatewayOptions> options, SiloMetrics metrics, ILogger<WebSocketSession> logger) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
                return HttpResults.Problem(Problem.Invalid("Upgrade", "GET /v1/ws must be a WebSocket upgrade request."));
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var session = new WebSocketSession(socket, context.Caller(), operations, jobs, options.Value, metrics, logger);
            await session.RunAsync(context.RequestAborted);
            return Results.Empty;
        }).WithOperationId("openWebSocket").Produces(StatusCodes.Status101SwitchingProtocols).ProducesProblem(400).CountsAsTenantStream().EndsWhenTheSiloStops().WithTags("WebSocket").WithSummary("The WebSocket session: every operation as JSON messages, with pushed updates.");
        return v1;
    }
}
