using Microsoft.Extensions.Hosting;

namespace OrleansQueue.Gateway;

/// <summary>
/// What waits on the silo ends when the silo begins to stop (SIGTERM, a host's StopAsync), instead of holding the stop up
/// until the host's shutdown timeout cuts it and Orleans stops without its grains leaving cleanly. Its
/// <see cref="HttpContext.RequestAborted"/> is the caller's leaving or the silo's stopping, whichever comes first: an event
/// stream ends as if complete (its client follows it again, on another silo or this one restarted), a WebSocket session
/// closes, and a long-poll or a worker's take not yet answered gets 503 with Retry-After, which every SDK retries.
/// </summary>
internal static class SiloStopping
{
    public static RouteHandlerBuilder EndsWhenTheSiloStops(this RouteHandlerBuilder builder) => builder.AddEndpointFilter(async (invocation, next) =>
    {
        var context = invocation.HttpContext;
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var aborted = context.RequestAborted;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(aborted, stopping);
        context.RequestAborted = either.Token;
        try
        {
            return await next(invocation);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !aborted.IsCancellationRequested)
        {
            return context.Response.HasStarted ? Results.Empty
                : HttpResults.Problem(Problem.Unavailable("The silo is stopping; retry, and another silo (or this one, once restarted) answers."));
        }
        finally
        {
            context.RequestAborted = aborted;
        }
    });
}
