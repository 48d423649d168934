using System.Threading.RateLimiting;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>What one call of a partitioned limiter asks for: the resource whose load the permits are, as which client, at
/// which priority. Calls with equal partitions share one <see cref="OrleansQueueRateLimiter"/>.</summary>
/// <param name="Resource">The resource (per model, per upstream, per route…).</param>
/// <param name="ClientId">Who asks (per tenant, per user…); null for the client's own id.</param>
/// <param name="Priority">The priority of the call.</param>
public readonly record struct OrleansQueuePartition(string Resource, string? ClientId = null, Priority Priority = Priority.Normal);

/// <summary>Metadata of the leases of an <see cref="OrleansQueueRateLimiter"/>, beside <see cref="MetadataName.RetryAfter"/> and
/// <see cref="MetadataName.ReasonPhrase"/> of its refusals.</summary>
public static class OrleansQueueMetadata
{
    /// <summary>The lease's fencing token: pass it downstream so that a stale holder can be refused.</summary>
    public static MetadataName<long> FencingToken { get; } = MetadataName.Create<long>("ORLEANSQUEUE_FENCING_TOKEN");

    /// <summary>Cancelled when the lease is lost (expired or reclaimed): stop the work it protects.</summary>
    public static MetadataName<CancellationToken> Lost { get; } = MetadataName.Create<CancellationToken>("ORLEANSQUEUE_LOST");
}
