using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>How an <see cref="OrleansQueueRateLimiter"/> asks its resource: who asks, at what priority, for how long it may wait.</summary>
public sealed class OrleansQueueRateLimiterOptions
{
    /// <summary>Who asks (fairness and quotas are per client); null for the client's own <see cref="OrleansQueueClientOptions.ClientId"/>.</summary>
    public string? ClientId { get; set; }

    /// <summary>The priority of every acquire.</summary>
    public Priority Priority { get; set; } = Priority.Normal;

    /// <summary>How long an <c>AcquireAsync</c> may wait in the queue; null for the resource's default. A request still
    /// waiting then gets a failed lease (reason and retry-after), as one the queue refuses outright does.</summary>
    public TimeSpan? MaxWait { get; set; }

    /// <summary>How old the resource's figures in <c>GetStatistics</c> may be before they are asked for again (in the
    /// background: the call answers at once with what it has).</summary>
    public TimeSpan StatisticsMaxAge { get; set; } = TimeSpan.FromSeconds(1);
}
