using System.Diagnostics;

namespace OrleansQueue.Grains;

/// <summary>
/// The silo's spans, on the <see cref="SourceName"/> source: the gateway's handling of a message (its parent the caller's
/// <c>traceparent</c>), a resource's operation (its parent the grain call, by Orleans' activity propagation) and, within
/// it, the wait for the store commit that makes its change durable.
/// </summary>
internal static class SiloTelemetry
{
    public const string SourceName = "OrleansQueue";

    public static readonly ActivitySource Source = new(SourceName, typeof(SiloTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>A span of the gateway for a WebSocket message of <paramref name="op"/> that carries the caller's W3C trace
    /// context (if any). Nothing is built while no one listens: this runs for every message.</summary>
    public static Activity? StartGateway(string op, string? traceparent, string? tracestate, string? resource)
    {
        if (!Source.HasListeners())
            return null;
        ActivityContext.TryParse(traceparent, tracestate, isRemote: true, out var parent);
        var activity = Source.StartActivity("ws " + op, System.Diagnostics.ActivityKind.Server, parent);
        activity?.SetTag("orleansqueue.resource", resource);
        return activity;
    }

    /// <summary>A span of a resource's operation, named "{operation} {resource}"; nothing is built while no one listens.</summary>
    public static Activity? StartOperation(string operation, string resource)
    {
        if (!Source.HasListeners())
            return null;
        var activity = Source.StartActivity(operation + " " + resource);
        activity?.SetTag("orleansqueue.resource", resource);
        return activity;
    }
}
