using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

internal static class GatewayCalls
{
    /// <summary>Runs a gateway operation on a resource's grain, answering a call it did not run (missing resource, failed store, resource elsewhere) as a problem.</summary>
    public static async Task<Outcome<T>> CallGatewayAsync<T>(this GrainRuntime runtime, string resource, Func<GrainTurn, Outcome<T>> call, CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return Problem.UnknownResource(resource);
        try
        {
            return await runtime.CallAsync(resource, call, ct);
        }
        catch (GrainCallException ex)
        {
            return Problem.From(resource, ex);
        }
    }

    /// <summary>Answers, for every endpoint of the group, a call the runtime refused (missing resource, failed store,
    /// resource elsewhere, silo stopping) as its problem, so that no endpoint needs to catch them itself.</summary>
    public static RouteGroupBuilder AnswerRefusedCallsAsProblems(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (invocation, next) =>
        {
            try
            {
                return await next(invocation);
            }
            catch (GrainCallException ex)
            {
                return HttpResults.Problem(Problem.From(invocation.HttpContext.GetRouteValue("resource") as string ?? "", ex));
            }
        });
        return group;
    }
}
