using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

internal static class GatewayCalls
{
    /// <summary>Runs a gateway operation on a resource's grain, answering a missing resource or a failed store as problems.</summary>
    public static async Task<Outcome<T>> CallGatewayAsync<T>(this GrainRuntime runtime, string resource, Func<GrainTurn, Outcome<T>> call, CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return Problem.UnknownResource(resource);
        try
        {
            return await runtime.CallAsync(resource, call, ct);
        }
        catch (UnknownResourceException)
        {
            return Problem.UnknownResource(resource);
        }
        catch (StoreUnavailableException ex)
        {
            return Problem.Unavailable(ex.Message);
        }
    }
}
