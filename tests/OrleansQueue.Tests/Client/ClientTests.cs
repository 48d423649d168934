using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Client;
using OrleansQueue.Contracts;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>The client's behaviour, whichever way it reaches the silo: each subclass runs every test over one transport.</summary>
public abstract class ClientContract(KestrelSilo silo) : IClassFixture<KestrelSilo>, IAsyncLifetime
{
    protected KestrelSilo Silo { get; } = silo;

    protected static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    protected readonly HttpClient _http = silo.CreateClient();
    protected readonly List<OrleansQueueClient> _clients = [];

    /// <summary>A client of the silo over this class's transport.</summary>
    protected abstract OrleansQueueClient Create(OrleansQueueClientOptions options);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
    }

    protected OrleansQueueClient NewClient(string clientId = "app")
    {
        var client = Create(new OrleansQueueClientOptions { ClientId = clientId });
        _clients.Add(client);
        return client;
    }

    [Fact]
    public async Task AnAcquiredLeaseIsReleasedWhenDisposed()
    {
        await _http.CreateResource("client-dispose", """{"maxConcurrent":2}""");
        var client = NewClient();

        await using (var lease = await client.AcquireAsync("client-dispose", load: 3))
        {
            Assert.Equal(1, lease.FencingToken);
            Assert.Equal(1, (await _http.Get("/v1/resources/client-dispose/stats")).Body.GetProperty("leases").GetInt32());
        }

        Assert.Equal(0, (await _http.Get("/v1/resources/client-dispose/stats")).Body.GetProperty("leases").GetInt32());
        Assert.True(client.UsesPush);
    }

    [Fact]
    public async Task AWaitingAcquireResumesWhenItsGrantIsPushedWithoutAnyStatusCall()
    {
        await _http.CreateResource("client-push", """{"maxConcurrent":1}""");
        var client = NewClient();
        var first = await client.AcquireAsync("client-push");
        var second = client.AcquireAsync("client-push");
        await WaitForWaiting("client-push", 1);

        await first.DisposeAsync();
        await using var lease = await second.WaitAsync(Generous);

        Assert.Equal(2, lease.FencingToken);
        string metrics = await _http.GetStringAsync("/metrics");
        Assert.Null(PrometheusText.Value(metrics, "orleansqueue_status_requests_total", "client-push")); // never polled
        Assert.NotNull(PrometheusText.Value(metrics, "orleansqueue_grants_total", "client-push")); // (the metrics were read right)
    }

    [Fact]
    public async Task ManyClientsAreGrantedInPriorityThenFairOrder()
    {
        await _http.CreateResource("client-order", """{"maxConcurrent":1,"defaultMaxWaitMs":120000}""");
        var holder = await NewClient("holder").AcquireAsync("client-order");
        var waiting = new List<(string Client, Task<Lease> Lease)>();
        foreach (string name in new[] { "a", "b", "c" })
        {
            var client = NewClient(name);
            for (int i = 0; i < 3; i++)
            {
                waiting.Add((name, client.AcquireAsync("client-order")));
                await WaitForWaiting("client-order", waiting.Count);
            }
        }
        waiting.Add(("urgent", NewClient("urgent").AcquireAsync("client-order", priority: Priority.High)));
        await WaitForWaiting("client-order", waiting.Count);

        await holder.DisposeAsync();
        var order = new List<string>();
        var pending = waiting.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending.Select(p => p.Lease)).WaitAsync(Generous);
            var entry = pending.Single(p => p.Lease == done);
            pending.Remove(entry);
            order.Add(entry.Client);
            await (await done).DisposeAsync();
        }

        Assert.Equal(["urgent", "a", "b", "c", "a", "b", "c", "a", "b", "c"], order);
    }

    [Fact]
    public async Task CancellingAWaitingAcquireRemovesItsTicket()
    {
        await _http.CreateResource("client-cancel", """{"maxConcurrent":1}""");
        var client = NewClient();
        await using var held = await client.AcquireAsync("client-cancel");
        using var cts = new CancellationTokenSource();
        var waiting = client.AcquireAsync("client-cancel", cancellationToken: cts.Token);
        await WaitForWaiting("client-cancel", 1);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Generous));
        var stats = (await _http.Get("/v1/resources/client-cancel/stats")).Body;
        Assert.Equal(0, stats.GetProperty("waiting").GetInt32());
        Assert.Equal(1, stats.GetProperty("cancelled").GetInt64());
    }

    /// <summary>A pushed grant is handed over unclaimed; the lease's renewal claims it within the claim window (so it is not
    /// reclaimed), and a lease released before that ends with its release alone.</summary>
    [Fact]
    public async Task APushedGrantIsClaimedByTheLeasesRenewalWithinTheClaimWindowOrEndedByItsRelease()
    {
        await _http.CreateResource("client-claim", """{"maxConcurrent":1,"claimWindowMs":1500,"leaseTtlMs":60000}""");
        var client = NewClient();
        var first = await client.AcquireAsync("client-claim");
        var second = client.AcquireAsync("client-claim");
        await WaitForWaiting("client-claim", 1);
        await first.DisposeAsync();

        var lease = await second.WaitAsync(Generous);
        await Eventually.True(() => lease.ExpiresAt > DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30)); // a lease TTL, not the window
        Assert.Equal("held", (await _http.Get($"/v1/resources/client-claim/requests/{lease.Id}")).Body.State());
        Assert.False(lease.Lost.IsCancellationRequested);

        var third = client.AcquireAsync("client-claim");
        await WaitForWaiting("client-claim", 1);
        await lease.DisposeAsync();
        var quick = await third.WaitAsync(Generous);
        await quick.DisposeAsync(); // released unclaimed
        Assert.Equal(0, (await _http.Get("/v1/resources/client-claim/stats")).Body.GetProperty("leases").GetInt32());
    }

    [Fact]
    public async Task AClientThatLosesItsConnectionMidWaitKeepsItsPlaceAndGetsItsGrant()
    {
        await _http.CreateResource("client-reconnect", """{"maxConcurrent":1,"claimWindowMs":60000}""");
        var holder = await NewClient("holder").AcquireAsync("client-reconnect");
        var dropped = NewClient("dropped");
        var first = dropped.AcquireAsync("client-reconnect");
        await WaitForWaiting("client-reconnect", 1);
        var behind = NewClient("behind").AcquireAsync("client-reconnect");
        await WaitForWaiting("client-reconnect", 2);

        dropped.DropConnection();
        await holder.DisposeAsync();

        await using var lease = await first.WaitAsync(Generous);
        Assert.Equal(2, lease.FencingToken);
        Assert.False(behind.IsCompleted);
        await lease.DisposeAsync();
        await using var next = await behind.WaitAsync(Generous);
    }

    [Fact]
    public async Task RefusalsArriveAsTypedExceptions()
    {
        await _http.CreateResource("client-refusals", """{"maxConcurrent":1,"maxQueueLength":1,"loadPerWindow":100}""");
        var client = NewClient();
        await using var held = await client.AcquireAsync("client-refusals");
        var queued = client.AcquireAsync("client-refusals");
        await WaitForWaiting("client-refusals", 1);

        var full = await Assert.ThrowsAsync<QueueFullException>(() => client.AcquireAsync("client-refusals"));
        Assert.Equal(429, full.Status);
        var invalid = await Assert.ThrowsAsync<InvalidLoadException>(() => client.AcquireAsync("client-refusals", load: 101));
        Assert.Equal("load", invalid.Field);
        await Assert.ThrowsAsync<UnknownResourceException>(() => client.AcquireAsync("client-nowhere"));
        await Assert.ThrowsAsync<AcquireTimeoutException>(() => client.AcquireAsync("client-refusals", maxWait: TimeSpan.Zero));
    }

    [Fact]
    public async Task AWaitThatRunsOutThrowsAcquireTimeout()
    {
        await _http.CreateResource("client-timeout", """{"maxConcurrent":1}""");
        var client = NewClient();
        await using var held = await client.AcquireAsync("client-timeout");

        await Assert.ThrowsAsync<AcquireTimeoutException>(() => client.AcquireAsync("client-timeout", maxWait: TimeSpan.FromMilliseconds(50)).WaitAsync(Generous));
    }

    [Fact]
    public async Task APollingOnlyResourceIsWaitedOnWithoutPushWithNoChangeToCallingCode()
    {
        await _http.CreateResource("client-polling-only", """{"maxConcurrent":1,"pushEnabled":false}""");
        var client = NewClient();
        var held = await client.AcquireAsync("client-polling-only");
        var waiting = client.AcquireAsync("client-polling-only");
        await WaitForWaiting("client-polling-only", 1);

        await held.DisposeAsync();

        await using var lease = await waiting.WaitAsync(Generous);
        Assert.Equal(2, lease.FencingToken);
    }

    [Fact]
    public async Task AnUpstreams429ReportedWhileHeldPausesAnAdaptiveResource()
    {
        await _http.CreateResource("client-report", """{"maxConcurrent":5,"adaptive":"headers"}""");
        var client = NewClient();
        await using var lease = await client.AcquireAsync("client-report");
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        response.Headers.Add("retry-after", "60");

        await lease.ReportAsync(response);

        var adaptive = (await _http.Get("/v1/resources/client-report/stats")).Body.GetProperty("adaptive");
        Assert.Equal(1, adaptive.GetProperty("throttles").GetInt64());
        Assert.Contains("429", adaptive.GetProperty("pauseReason").GetString());
        var refused = await Assert.ThrowsAsync<AcquireTimeoutException>(() => client.AcquireAsync("client-report", maxWait: TimeSpan.Zero));
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(60)); // when grants resume
        Assert.False(lease.Lost.IsCancellationRequested); // the lease held runs on
    }

    protected async Task WaitForWaiting(string resource, int count)
    {
        var deadline = DateTime.UtcNow + Generous;
        while ((await _http.Get($"/v1/resources/{resource}/stats")).Body.GetProperty("waiting").GetInt32() != count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{resource} never had {count} waiting");
            await Task.Delay(10); // the client gives no event when its request is queued; the stats are the witness
        }
    }
}

/// <summary>Over the silo's gateway: the WebSocket, with long-poll for polling-only resources.</summary>
public sealed class ClientTests(KestrelSilo silo) : ClientContract(silo)
{
    protected override OrleansQueueClient Create(OrleansQueueClientOptions options)
    {
        options.BaseAddress = Silo.BaseAddress;
        return new OrleansQueueClient(options);
    }

    [Fact]
    public async Task AResourceIsCreatedReadListedChangedCountedAndDeletedThroughTheClient()
    {
        var client = NewClient("admin");

        var created = await client.PutResourceAsync("client-admin", new ResourceBody(MaxConcurrent: 2, LoadPerWindow: 9000, WindowMs: 60_000));
        Assert.Equal(("client-admin", 2, 9000L, 60_000L), (created.Name, created.Policy.MaxConcurrent, created.Policy.LoadPerWindow, created.Policy.WindowMs));
        Assert.Equal(created.Policy.MaxConcurrent, (await client.GetResourceAsync("client-admin")).Policy.MaxConcurrent);
        Assert.Contains(await client.ListResourcesAsync(), r => r.Name == "client-admin");
        var changed = await client.PutResourceAsync("client-admin", new ResourceBody(MaxConcurrent: 1, PushEnabled: false));
        Assert.Equal((1, false), (changed.Policy.MaxConcurrent, changed.PushEnabled));
        await using (await client.AcquireAsync("client-admin"))
        {
            var stats = await client.GetStatsAsync("client-admin");
            Assert.Equal((1, 1L), (stats.Leases, stats.Granted));
        }

        var refused = await Assert.ThrowsAsync<InvalidRequestException>(() => client.PutResourceAsync("client-admin-bad", new ResourceBody(WindowMs: -5)));
        Assert.Equal("windowMs", refused.Field);
        await client.DeleteResourceAsync("client-admin");
        await Assert.ThrowsAsync<UnknownResourceException>(() => client.GetResourceAsync("client-admin"));
        await Assert.ThrowsAsync<UnknownResourceException>(() => client.GetResourceAsync("client-admin-bad"));
    }

    [Fact]
    public async Task AGrantMadeWhileTheClientWasDisconnectedIsDeliveredWhenItReattaches()
    {
        await _http.CreateResource("client-away", """{"maxConcurrent":1,"claimWindowMs":60000}""");
        var holder = await NewClient("holder").AcquireAsync("client-away");
        var reconnect = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new OrleansQueueClientOptions { BaseAddress = Silo.BaseAddress, ClientId = "away" };
        var connect = SocketConnection.Default(options);
        int connections = 0;
        options.ConnectWebSocket = async ct =>
        {
            if (Interlocked.Increment(ref connections) > 1)
                await reconnect.Task.WaitAsync(ct); // the network is down until the test says otherwise
            return await connect(ct);
        };
        var away = new OrleansQueueClient(options);
        _clients.Add(away);
        var waiting = away.AcquireAsync("client-away");
        await WaitForWaiting("client-away", 1);

        away.DropConnection();
        await holder.DisposeAsync();
        var stats = (await _http.Get("/v1/resources/client-away/stats")).Body;
        Assert.Equal(0, stats.GetProperty("waiting").GetInt32());
        Assert.Equal(1, stats.GetProperty("leases").GetInt32()); // granted while the client could not hear it
        Assert.False(waiting.IsCompleted);

        reconnect.SetResult();

        await using var lease = await waiting.WaitAsync(Generous);
        Assert.Equal(2, lease.FencingToken);
    }

    [Fact]
    public async Task MoreTicketsThanOneAttachMayNameAreAllFollowedAgainAfterTheConnectionDrops()
    {
        await _http.CreateResource("client-many", """{"maxConcurrent":1,"maxQueuedPerClient":2000,"defaultMaxWaitMs":120000}""");
        var holder = await NewClient("holder").AcquireAsync("client-many");
        var many = NewClient("many");
        int count = Limits.MaxAttachIds + 200;
        var waiting = Enumerable.Range(0, count).Select(async _ =>
        {
            await using var lease = await many.AcquireAsync("client-many");
            return lease.FencingToken;
        }).ToList();
        await WaitForWaiting("client-many", count);

        many.DropConnection(); // it reconnects and attaches its tickets again: more than one attach may name
        await holder.DisposeAsync();

        var tokens = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(count, tokens.Distinct().Count());
    }
}

/// <summary>Through Orleans, as an application that runs an Orleans client or co-hosts a silo: grain calls and observer pushes,
/// status polling for polling-only resources.</summary>
public sealed class OrleansClientTests(KestrelSilo silo) : ClientContract(silo)
{
    protected override OrleansQueueClient Create(OrleansQueueClientOptions options) =>
        new(Silo.Services.GetRequiredService<IGrainFactory>(), options);

    [Fact]
    public async Task ManagingResourcesThroughOrleansAloneIsRefusedSayingWhatToDo()
    {
        var refused = await Assert.ThrowsAsync<NotSupportedException>(() => NewClient().PutResourceAsync("orleans-admin", new ResourceBody(MaxConcurrent: 1)));
        Assert.Contains("BaseAddress", refused.Message);
        Assert.Contains("Silo:Resources", refused.Message);
    }
}
