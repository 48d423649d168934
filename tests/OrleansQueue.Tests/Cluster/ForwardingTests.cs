using System.Diagnostics;
using System.Net;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Cluster;

/// <summary>Every silo is a gateway: calls and pushes about a resource placed elsewhere go through the silo the client talks to.</summary>
public sealed class ForwardingTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    /// <summary>A resource name placed on some silo other than <paramref name="gateway"/>.</summary>
    private string PlacedAwayFrom(TestSilo gateway, string prefix) =>
        Enumerable.Range(0, 1000).Select(i => $"{prefix}-{i}").First(name => !gateway.View.IsLocal(name));

    [Fact]
    public async Task AWebSocketClientOfANonOwnerAcquiresWaitsAndGetsItsGrantPushedBack()
    {
        var gateway = _cluster.Silos[0];
        string resource = PlacedAwayFrom(gateway, "ws");
        await using var clients = await HoldAndWaitAsync(gateway, resource, "{\"maxConcurrent\":1}");
        var (held, waiting) = (clients.Held, clients.Waiting);
        Assert.False(waiting.IsCompleted);
        await held.DisposeAsync();
        await using var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(granted.FencingToken > held.FencingToken);
        var owner = _cluster.OwnerOf(resource);
        Assert.NotSame(gateway, owner);
        Assert.True(owner.Runs(resource));
        Assert.False(gateway.Runs(resource));
        Assert.DoesNotContain(_cluster.Silos.Where(s => s != owner), s => s.Runs(resource));
    }

    [Fact]
    public async Task HttpCallsAndServerSentEventsGoThroughANonOwner()
    {
        var gateway = _cluster.Silos[1];
        string resource = PlacedAwayFrom(gateway, "sse");
        using var http = gateway.CreateClient();
        await http.CreateResource(resource, "{\"maxConcurrent\":1}");
        long held = await http.Acquire(resource, "{\"clientId\":\"a\"}", "held");
        long waiting = await http.Acquire(resource, "{\"clientId\":\"b\"}", "waiting");

        using var events = await http.GetAsync($"/v1/resources/{resource}/requests/{waiting}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        Assert.Equal("event: waiting", await reader.ReadLineAsync());
        var released = await http.Post($"/v1/resources/{resource}/requests/{held}/release");
        Assert.Equal("released", released.Body.State());

        string? line;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && !line.StartsWith("event: ", StringComparison.Ordinal))
        {
        }
        Assert.Equal("event: granted", line);
        Assert.True(_cluster.OwnerOf(resource).Runs(resource));
        Assert.False(gateway.Runs(resource));
    }

    [Fact]
    public async Task WhenTheOwnerIsKilledAnotherSiloTakesTheResourceOverWithItsLeaseAndWaiter()
    {
        var gateway = _cluster.Silos[0];
        string resource = PlacedAwayFrom(gateway, "failover");
        await using var clients = await HoldAndWaitAsync(gateway, resource, "{\"maxConcurrent\":1,\"requestsPerWindow\":2,\"windowMs\":600000}");
        var (http, held, waiting) = (clients.Http, clients.Held, clients.Waiting);

        var owner = _cluster.OwnerOf(resource);
        var killedAt = Stopwatch.StartNew();
        await _cluster.KillAsync(owner);
        await _cluster.WaitForMembersAsync();
        var successor = _cluster.OwnerOf(resource);
        await WaitUntil(() => Task.FromResult(successor.Runs(resource))); // taken over at once: it had work pending
        var stats = (await http.Get($"/v1/resources/{resource}/stats")).Body;
        Assert.Equal(1, stats.GetProperty("leases").GetInt32());
        Assert.Equal(1, stats.GetProperty("waiting").GetInt32());

        await held.DisposeAsync();
        await using var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(granted.FencingToken > held.FencingToken);
        // The window's budget came along: a third request in the window waits, though nothing is held.
        await granted.DisposeAsync();
        var third = await http.Post($"/v1/resources/{resource}/acquire", "{\"clientId\":\"c\",\"maxWaitMs\":0}");
        third.AssertProblem(HttpStatusCode.TooManyRequests, "timed-out");
        Assert.True(killedAt.Elapsed < TimeSpan.FromSeconds(30));
    }

    /// <summary>Through <paramref name="gateway"/>: creates <paramref name="resource"/>, holds its one slot with client
    /// "first", and leaves client "second" waiting (seen by the resource's stats).</summary>
    private static async Task<HoldAndWait> HoldAndWaitAsync(TestSilo gateway, string resource, string policy)
    {
        var http = gateway.CreateClient();
        await http.CreateResource(resource, policy);
        var first = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = gateway.BaseAddress, ClientId = "first" });
        var second = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = gateway.BaseAddress, ClientId = "second" });
        var held = await first.AcquireAsync(resource);
        var waiting = second.AcquireAsync(resource);
        await WaitUntil(async () => (await http.Get($"/v1/resources/{resource}/stats")).Body.GetProperty("waiting").GetInt32() == 1);
        return new HoldAndWait(http, first, second, held, waiting);
    }

    private sealed record HoldAndWait(HttpClient Http, OrleansQueueClient First, OrleansQueueClient Second, Lease Held, Task<Lease> Waiting)
        : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await First.DisposeAsync();
            await Second.DisposeAsync();
            Http.Dispose();
        }
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the condition did not come true within 30 s");
            await Task.Delay(20);
        }
    }
}
