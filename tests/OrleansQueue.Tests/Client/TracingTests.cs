using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// One trace shows a call's wait in the queue: the caller's span, the SDK's acquire (its duration the wait), the gateway's
/// handling of the WebSocket message (parented by the message's traceparent), the grain's operation (through Orleans'
/// activity propagation) and its commit, and the release. Exported by OpenTelemetry's in-memory exporter.
/// </summary>
public sealed class TracingTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private static readonly ActivitySource App = new("TracingTests.App");
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task OneTraceGoesFromTheCallersAcquireThroughTheGatewayAndTheGrainToItsRelease()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(App.Name, OrleansQueueClient.ActivitySourceName, "OrleansQueue", "Microsoft.Orleans.*")
            .AddInMemoryExporter(spans)
            .Build()!;
        using var http = silo.CreateClient();
        await http.CreateResource("traced");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "traced-app" });
        var holder = await client.AcquireAsync("traced"); // before the caller's trace begins

        ActivityTraceId trace;
        ActivitySpanId root;
        DateTime heldUntil;
        using (var caller = App.StartActivity("handle a request")!)
        {
            (trace, root) = (caller.TraceId, caller.SpanId);
            var waiting = client.AcquireAsync("traced", load: 1, priority: Contracts.Priority.High);
            using (var deadline = new CancellationTokenSource(Generous))
            {
                while ((await client.GetStatsAsync("traced", deadline.Token)).Waiting == 0)
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
        var mine = spans.Where(s => s.TraceId == trace).ToList();
        string Shown() => string.Join("\n", mine.Select(s => $"{s.DisplayName} {s.Kind} {s.SpanId} <- {s.ParentSpanId}"));

        var acquire = mine.Single(s => s.DisplayName == "acquire traced");
        Assert.Equal(root, acquire.ParentSpanId);
        Assert.Equal(ActivityKind.Client, acquire.Kind);
        Assert.Equal(["queued", "granted"], acquire.Events.Select(e => e.Name));
        Assert.Equal("High", acquire.GetTagItem("orleansqueue.priority"));
        Assert.Equal("granted", acquire.GetTagItem("orleansqueue.outcome"));
        Assert.True(acquire.StartTimeUtc + acquire.Duration >= heldUntil, "the acquire's span ends at its grant, after the wait");

        var gateway = mine.Single(s => s.DisplayName == "ws acquire");
        Assert.Equal(acquire.SpanId, gateway.ParentSpanId);
        Assert.Equal(ActivityKind.Server, gateway.Kind);
        var grain = mine.Single(s => s.DisplayName == "Acquire traced");
        Assert.True(Descends(grain, gateway.SpanId, mine), Shown());
        Assert.Contains(mine, s => s.DisplayName == "commit" && s.ParentSpanId == grain.SpanId);

        var release = mine.Single(s => s.DisplayName == "release traced");
        Assert.Equal(root, release.ParentSpanId);
        Assert.Contains(mine, s => s.DisplayName == "ws release" && s.ParentSpanId == release.SpanId);
        Assert.DoesNotContain(mine, s => s.DisplayName.StartsWith("ws renew", StringComparison.Ordinal)); // renewals are no caller's
    }

    private static bool Descends(Activity span, ActivitySpanId ancestor, List<Activity> spans)
    {
        for (var parent = span.ParentSpanId; parent != default;)
        {
            if (parent == ancestor)
                return true;
            var next = spans.FirstOrDefault(s => s.SpanId == parent);
            if (next is null)
                return false;
            parent = next.ParentSpanId;
        }
        return false;
    }
}
