using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// The client's traces and metrics. A span per acquire (<c>acquire {resource}</c>, from the call to the grant or the
/// refusal: its duration is the wait, with the events <c>queued</c> (position at entry) and <c>granted</c>) and per release;
/// the trace context goes with every message to the silo (a W3C <c>traceparent</c> on the WebSocket, HTTP's own headers,
/// Orleans' activity propagation), so the gateway's and the grain's spans join the caller's trace. Meter
/// <see cref="OrleansQueueClient.MeterName"/>: the wait (s), leases held, refusals by type.
/// </summary>
internal static class ClientTelemetry
{
    public static readonly ActivitySource Source = new(OrleansQueueClient.ActivitySourceName, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Meter Meter = new(OrleansQueueClient.MeterName, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());
    private static readonly Histogram<double> Wait = Meter.CreateHistogram<double>("orleansqueue.client.wait", "s", "From an acquire to its grant.");
    private static readonly UpDownCounter<long> Leases = Meter.CreateUpDownCounter<long>("orleansqueue.client.leases", "{lease}", "Leases this process holds.");
    private static readonly Counter<long> Refusals = Meter.CreateCounter<long>("orleansqueue.client.refusals", "{refusal}", "Acquires refused, by problem type.");

    /// <summary>The span of an acquire; nothing is built while no one listens (this runs for every acquire).</summary>
    public static Activity? StartAcquire(string resource, long load, Priority priority, string clientId)
    {
        if (!Source.HasListeners())
            return null;
        var activity = Source.StartActivity("acquire " + resource, System.Diagnostics.ActivityKind.Client);
        activity?.SetTag("orleansqueue.resource", resource).SetTag("orleansqueue.load", load)
            .SetTag("orleansqueue.priority", priority.ToString()).SetTag("orleansqueue.client_id", clientId);
        return activity;
    }

    public static void Queued(Activity? activity, int? position) =>
        activity?.AddEvent(new ActivityEvent("queued", tags: new ActivityTagsCollection { ["orleansqueue.position"] = position }));

    public static void Granted(Activity? activity, string resource, Priority priority, Lease lease, long startedAt)
    {
        if (Wait.Enabled)
            Wait.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, new("orleansqueue.resource", resource), new("orleansqueue.priority", priority.ToString()));
        Leases.Add(1, new KeyValuePair<string, object?>("orleansqueue.resource", resource));
        activity?.AddEvent(new ActivityEvent("granted"));
        activity?.SetTag("orleansqueue.lease_id", lease.Id).SetTag("orleansqueue.fencing_token", lease.FencingToken).SetTag("orleansqueue.outcome", "granted");
    }

    public static void Refused(Activity? activity, string resource, Exception error)
    {
        string type = error is OrleansQueueException problem ? problem.Type : error.GetType().Name;
        if (error is OrleansQueueException)
            Refusals.Add(1, new("orleansqueue.resource", resource), new("error.type", type));
        activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        activity?.SetTag("error.type", type).SetTag("orleansqueue.outcome", error is OperationCanceledException ? "cancelled" : "refused");
    }

    /// <summary>The span of a release; nothing is built while no one listens.</summary>
    public static Activity? StartRelease(string resource, long leaseId)
    {
        if (!Source.HasListeners())
            return null;
        var activity = Source.StartActivity("release " + resource, System.Diagnostics.ActivityKind.Client);
        activity?.SetTag("orleansqueue.resource", resource).SetTag("orleansqueue.lease_id", leaseId);
        return activity;
    }

    public static void LeaseEnded(string resource) => Leases.Add(-1, new KeyValuePair<string, object?>("orleansqueue.resource", resource));

    /// <summary>The current span's W3C trace context, for a message to the silo.</summary>
    public static (string? Parent, string? State) Context() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? (current.Id, current.TraceStateString) : (null, null);
}
