using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Gateway;

internal sealed class StoreHealthCheck(IGrainStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy("The store answers.");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The store does not answer.", ex);
        }
    }
}
