namespace OrleansQueue.Gateway;

/// <summary>
/// The gateway's way to the resources' grains: calls them, and answers a call that did not reach its grain or failed on
/// its way (the silo stops, the grain could not activate) as a retryable problem, so that callers only ever see problems.
/// </summary>
internal sealed partial class ResourceGrains(IGrainFactory factory, TenantCalls tenants, ILogger<ResourceGrains> logger)
{
    private readonly ResourceGrainReferences _references = new(factory);

    public IGrainFactory Factory => factory;

    public ResourceGrainReference Get(string resource) => _references.Get(resource);

    /// <param name="tenant">Whose call it is: at most <see cref="GatewayOptions.MaxCallsInFlightPerTenant"/> of a tenant's
    /// calls run at once, so that one tenant's flood queues behind itself rather than in front of the others.</param>
    public async Task<Outcome<T>> CallAsync<T>(string resource, Func<ResourceGrainReference, Task<Outcome<T>>> call, CancellationToken ct, string? tenant = null)
    {
        if (!Names.IsValidResource(resource))
            return Problem.UnknownResource(resource);
        // A grain call is short and cannot be withdrawn once sent: the token only keeps it from being sent.
        ct.ThrowIfCancellationRequested();
        using var turn = tenant is null ? null : await tenants.EnterAsync(tenant, ct);
        try
        {
            return await call(Get(resource));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A cancellation that is not the caller's own (the grain's activation gave up on a store that does not
            // answer, say) is a failure on the way like any other.
            LogCallFailed(logger, ex, resource);
            return Problem.Unavailable($"Resource \"{resource}\" could not be reached; the call can be retried.");
        }
    }

    [LoggerMessage(LogLevel.Warning, "A call to resource {Resource} failed")]
    private static partial void LogCallFailed(ILogger logger, Exception ex, string resource);
}

internal static partial class GatewayCalls
{
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
            catch (Exception ex) when (!invocation.HttpContext.Response.HasStarted
                && (ex is not OperationCanceledException || !invocation.HttpContext.RequestAborted.IsCancellationRequested))
            {
                string resource = invocation.HttpContext.GetRouteValue("resource") as string ?? "";
                LogEndpointFailed(invocation.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayCalls)), ex, resource);
                return HttpResults.Problem(Problem.Unavailable("The silo could not serve this now; the call can be retried."));
            }
        });
        return group;
    }

    [LoggerMessage(LogLevel.Warning, "A call about resource {Resource} failed")]
    private static partial void LogEndpointFailed(ILogger logger, Exception ex, string resource);
}
