using OrleansQueue.Contracts;

namespace OrleansQueue.Silo.Gateway;

internal static partial class GatewayCalls
{
    /// <summary>
    /// Calls a resource's grain, answering a call that did not reach it or failed on its way (the silo stops, the grain
    /// could not activate) as a retryable problem, so that callers of the gateway only ever see problems.
    /// </summary>
    public static async Task<Outcome<T>> CallGrainAsync<T>(this IGrainFactory grains, string resource, Func<IResourceGrain, Task<Outcome<T>>> call,
        ILogger logger, CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return Problem.UnknownResource(resource);
        try
        {
            return await call(grains.GetGrain<IResourceGrain>(resource)).WaitAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCallFailed(logger, ex, resource);
            return Problem.Unavailable($"Resource \"{resource}\" could not be reached ({ex.GetType().Name}); the call can be retried.");
        }
    }

    /// <summary>Answers, for every endpoint of the group, a failure on the way to the store or a grain (the silo stopping,
    /// a store that does not answer) as a retryable problem instead of a bare 500.</summary>
    public static RouteGroupBuilder AnswerFailuresAsProblems(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (invocation, next) =>
        {
            try
            {
                return await next(invocation);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !invocation.HttpContext.Response.HasStarted)
            {
                string resource = invocation.HttpContext.GetRouteValue("resource") as string ?? "";
                LogCallFailed(invocation.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayCalls)), ex, resource);
                return HttpResults.Problem(Problem.Unavailable($"The silo could not serve this now ({ex.GetType().Name}); the call can be retried."));
            }
        });
        return group;
    }

    [LoggerMessage(LogLevel.Warning, "A call to resource {Resource} failed")]
    private static partial void LogCallFailed(ILogger logger, Exception ex, string resource);
}
