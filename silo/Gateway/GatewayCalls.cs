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
}
