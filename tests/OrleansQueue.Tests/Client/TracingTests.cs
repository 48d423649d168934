using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// One trace shows a call's wait in the queue: the caller's span, the SDK's acquire (its duration the wait), the gateway's
/// handling of the call (a WebSocket message's traceparent, or HTTP's headers), the grain's operation (through Orleans'
/// activity propagation) and its commit, and the release. Exported by OpenTelemetry's in-memory exporter.
/// </summary>
public sealed class TracingTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private static readonly ActivitySource App = new("TracingTests.App");
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task OneTraceGoesFromTheCallersAcquireThroughTheGatewayAndTheGrainToItsRelease()
    {
        var call = await TraceOneCall("traced-ws", ClientTransport.Auto);

        var acquire = call.Span("acquire traced-ws");
        Assert.Equal(call.Root, acquire.ParentSpanId);
        Assert.Equal(ActivityKind.Client, acquire.Kind);
        Assert.Equal(["queued", "granted"], acquire.Events.Select(e => e.Name));
        Assert.Equal("High", acquire.GetTagItem("orleansqueue.priority"));
        Assert.Equal("granted", acquire.GetTagItem("orleansqueue.outcome"));
        Assert.True(acquire.StartTimeUtc + acquire.Duration >= call.HeldUntil, "the acquire's span ends at its grant, after the wait");

        var gateway = call.Span("ws acquire");
        Assert.Equal(acquire.SpanId, gateway.ParentSpanId);
        Assert.Equal(ActivityKind.Server, gateway.Kind);
        var grain = call.Span("Acquire traced-ws");
        Assert.True(call.Descends(grain, gateway.SpanId), call.Shown);
        Assert.Contains(call.Spans, s => s.DisplayName == "commit" && s.ParentSpanId == grain.SpanId);

        var release = call.Span("release traced-ws");
        Assert.Equal(call.Root, release.ParentSpanId);
        Assert.Contains(call.Spans, s => s.DisplayName == "ws release" && s.ParentSpanId == release.SpanId);
        Assert.DoesNotContain(call.Spans, s => s.DisplayName.StartsWith("ws renew", StringComparison.Ordinal)); // renewals are no caller's
    }

    [Fact]
    public async Task OverHttpTheTraceGoesThroughTheRequestsHeadersIntoTheGrain()
    {
        var call = await TraceOneCall("traced-http", ClientTransport.LongPoll);

        var acquire = call.Span("acquire traced-http");
        Assert.Equal(call.Root, acquire.ParentSpanId);
        Assert.True(call.Descends(call.Spans.First(s => s.DisplayName == "Acquire traced-http"), acquire.SpanId), call.Shown);
        Assert.Equal(call.Root, call.Span("release traced-http").ParentSpanId);
    }

    /// <summary>A caller's span around an acquire of <paramref name="resource"/> that waits (a holder outside the trace
    /// releases it) and its release; the spans of that trace.</summary>
    private async Task<TracedCall> TraceOneCall(string resource, ClientTransport transport)
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(App.Name, OrleansQueueClient.ActivitySourceName, "OrleansQueue", "Microsoft.Orleans.*", "System.Net.Http", "Microsoft.AspNetCore")
            .AddInMemoryExporter(spans)
            .Build()!;
        using var http = silo.CreateClient();
        await http.CreateResource(resource);
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions
        {
            BaseAddress = silo.BaseAddress, ClientId = "traced-app", Transport = transport,
        });
        var holder = await client.AcquireAsync(resource); // before the caller's trace begins

        ActivityTraceId trace;
        ActivitySpanId root;
        DateTime heldUntil;
        using (var caller = App.StartActivity("handle a request")!)
        {
            (trace, root) = (caller.TraceId, caller.SpanId);
            var waiting = client.AcquireAsync(resource, load: 1, priority: Contracts.Priority.High);
            using (var deadline = new CancellationTokenSource(Generous))
            {
                while ((await client.GetStatsAsync(resource, deadline.Token)).Waiting == 0)
                    await Task.Delay(20, deadline.Token);
            }
            heldUntil = DateTime.UtcNow;
            Task releasing;
            using (ExecutionContext.SuppressFlow()) // the holder's release is not part of this caller's trace
                releasing = Task.Run(() => holder.DisposeAsync().AsTask());
            await releasing;
            await using var lease = await waiting.WaitAsync(Generous);
        }
        tracing.ForceFlush();
        return new TracedCall([.. spans.Where(s => s.TraceId == trace)], root, heldUntil);
    }

    private sealed record TracedCall(List<Activity> Spans, ActivitySpanId Root, DateTime HeldUntil)
    {
        public string Shown => string.Join("\n", Spans.Select(s => $"{s.DisplayName} {s.Kind} {s.SpanId} <- {s.ParentSpanId}"));

        public Activity Span(string name) => Spans.SingleOrDefault(s => s.DisplayName == name) ?? throw new Xunit.Sdk.XunitException($"no single span \"{name}\" in:\n{Shown}");

        public bool Descends(Activity span, ActivitySpanId ancestor)
        {
            for (var parent = span.ParentSpanId; parent != default;)
            {
                if (parent == ancestor)
                    return true;
                var next = Spans.FirstOrDefault(s => s.SpanId == parent);
                if (next is null)
                    return false;
                parent = next.ParentSpanId;
            }
            return false;
        }
    }
}
