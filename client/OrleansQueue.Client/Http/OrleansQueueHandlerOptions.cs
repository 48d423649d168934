using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>How an <see cref="OrleansQueueHandler"/> weighs and ranks each outgoing request.</summary>
public sealed class OrleansQueueHandlerOptions
{
    /// <summary>The load of a request (its estimated tokens, say); null or absent for 1.</summary>
    public Func<HttpRequestMessage, long>? Load { get; set; }

    /// <summary>The priority of a request; absent for <see cref="Priority.Normal"/>.</summary>
    public Func<HttpRequestMessage, Priority>? Priority { get; set; }

    /// <summary>Who asks (fairness and quotas are per client); null for the client's own id.</summary>
    public Func<HttpRequestMessage, string?>? ClientId { get; set; }

    /// <summary>How long a request may wait in the queue; null for the resource's default.</summary>
    public TimeSpan? MaxWait { get; set; }

    /// <summary>The load the request really used, read from its response (usage in a header, say), reported at release;
    /// absent or null to keep the estimate.</summary>
    public Func<HttpResponseMessage, long?>? ActualLoad { get; set; }
}
