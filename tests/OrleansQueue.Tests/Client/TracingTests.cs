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

    [Fact]
    public async Task AJobsEnqueueJoinsTheCallersTraceAndItsRunIsASpanOfTheWorker()
    {
        var spans = new List<Activity>();
        using var tracing = Tracing(spans);
        using var http = silo.CreateClient();
        await http.CreateResource("traced-jobs");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "traced-app" });

        ActivityTraceId trace;
        QueueJob job;
        using (var caller = App.StartActivity("enqueue a job")!)
        {
            trace = caller.TraceId;
            job = await client.EnqueueAsync("traced-jobs", new { n = 1 });
        }
        using var stop = new CancellationTokenSource();
        var worker = client.RunWorkerAsync("traced-jobs", (_, _) => Task.FromResult<object?>(42), cancellationToken: stop.Token);
        await client.WaitForResultAsync("traced-jobs", job.Id).WaitAsync(Eventually.Generous);
        await stop.CancelAsync();
        await worker.WaitAsync(Eventually.Generous);
        tracing.ForceFlush();

        var enqueue = spans.Single(s => s.DisplayName == "enqueue traced-jobs");
        Assert.Equal(trace, enqueue.TraceId);
        Assert.Equal(ActivityKind.Producer, enqueue.Kind);
        var call = new TracedCall([.. spans.Where(s => s.TraceId == trace)], default, default);
        Assert.True(call.Descends(call.Span("Enqueue traced-jobs"), enqueue.SpanId), call.Shown);
        var run = spans.Single(s => s.DisplayName == "run job traced-jobs");
        Assert.Equal(ActivityKind.Consumer, run.Kind);
        Assert.Equal(job.Id, run.GetTagItem("orleansqueue.job_id"));
    }

    [Fact]
    public async Task TheClientsMeterCountsTheWaitTheLeasesHeldAndTheRefusalsByType()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, double Value, string? Type)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OrleansQueueClient.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        void Record(System.Diagnostics.Metrics.Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? resource = null, type = null;
            foreach (var (key, tag) in tags)
            {
                if (key == "orleansqueue.resource") resource = tag as string;
                if (key == "error.type") type = tag as string;
            }
            if (resource == "metered")
                seen.Enqueue((instrument.Name, value, type));
        }
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        using var http = silo.CreateClient();
        await http.CreateResource("metered");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "metered-app" });

        var lease = await client.AcquireAsync("metered");
        await Assert.ThrowsAsync<AcquireTimeoutException>(() => client.AcquireAsync("metered", maxWait: TimeSpan.Zero));
        await lease.DisposeAsync();

        Assert.Single(seen, m => m.Instrument == "orleansqueue.client.wait" && m.Value >= 0);
        Assert.Equal([1.0, -1.0], seen.Where(m => m.Instrument == "orleansqueue.client.leases").Select(m => m.Value));
        var refusal = Assert.Single(seen, m => m.Instrument == "orleansqueue.client.refusals");
        Assert.Equal("urn:orleansqueue:problem:timed-out", refusal.Type);
    }

    private static TracerProvider Tracing(List<Activity> spans) => Sdk.CreateTracerProviderBuilder()
        .AddSource(App.Name, OrleansQueueClient.ActivitySourceName, "OrleansQueue", "Microsoft.Orleans.*", "System.Net.Http", "Microsoft.AspNetCore")
        .AddInMemoryExporter(spans)
        .Build()!;

    /// <summary>A caller's span around an acquire of <paramref name="resource"/> that waits (a holder outside the trace
    /// releases it) and its release; the spans of that trace.</summary>
    private async Task<TracedCall> TraceOneCall(string resource, ClientTransport transport)
    {
        var spans = new List<Activity>();
        using var tracing = Tracing(spans);
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
            using (var deadline = new CancellationTokenSource(Eventually.Generous))
            {
                while ((await client.GetStatsAsync(resource, deadline.Token)).Waiting == 0)
                    await Task.Delay(20, deadline.Token);
            }
            heldUntil = DateTime.UtcNow;
            Task releasing;
            using (ExecutionContext.SuppressFlow()) // the holder's release is not part of this caller's trace
                releasing = Task.Run(() => holder.DisposeAsync().AsTask());
            await releasing;
            await using var lease = await waiting.WaitAsync(Eventually.Generous);
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
