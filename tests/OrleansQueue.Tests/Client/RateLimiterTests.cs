using System.Threading.RateLimiting;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;
using Priority = OrleansQueue.Contracts.Priority;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// <see cref="OrleansQueueRateLimiter"/> against a real silo over the WebSocket gateway, each behaviour named as
/// dotnet/runtime's rate limiter tests name it and held to what <see cref="ConcurrencyLimiter"/> does where the
/// <see cref="RateLimiter"/> contract asks for something.
/// </summary>
public sealed class RateLimiterTests(KestrelSilo silo) : IClassFixture<KestrelSilo>, IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http = silo.CreateClient();
    private OrleansQueueClient _client = null!;

    public Task InitializeAsync()
    {
        _client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "limiter-tests" });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        _http.Dispose();
    }

    private async Task<OrleansQueueRateLimiter> LimiterOver(string policy, OrleansQueueRateLimiterOptions? options = null,
        [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        string resource = "rl-" + Math.Abs(test.GetHashCode()).ToString("x");
        await _http.CreateResource(resource, policy);
        return new OrleansQueueRateLimiter(_client, resource, options);
    }

    [Fact]
    public async Task CanAcquireResourceAsync()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");

        using (var lease = await limiter.AcquireAsync(1))
        {
            Assert.True(lease.IsAcquired);
            Assert.True(lease.TryGetMetadata(OrleansQueueMetadata.FencingToken, out long token) && token > 0);
            Assert.True(lease.TryGetMetadata(OrleansQueueMetadata.Lost, out var lost) && !lost.IsCancellationRequested);
            Assert.Equal(1, (await _client.GetStatsAsync(limiter.Resource)).Leases);
        }

        // Disposed: released in the background, so the next one is granted.
        using var next = await limiter.AcquireAsync(1).AsTask().WaitAsync(Generous);
        Assert.True(next.IsAcquired);
    }

    [Fact]
    public async Task CanAcquireResourceAsync_QueuesAndGrabsOldest()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");
        var held = await limiter.AcquireAsync(1);

        var first = limiter.AcquireAsync(1).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 1);
        var second = limiter.AcquireAsync(1).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 2);
        Assert.False(first.IsCompleted);

        held.Dispose();
        using var firstLease = await first.WaitAsync(Generous);
        Assert.True(firstLease.IsAcquired);
        Assert.False(second.IsCompleted);
        firstLease.Dispose();
        using var secondLease = await second.WaitAsync(Generous);
        Assert.True(secondLease.IsAcquired);
    }

    [Fact]
    public async Task FailsWhenQueuingMoreThanAllowed()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1,"maxQueueLength":1}""");
        using var held = await limiter.AcquireAsync(1);
        var waiting = limiter.AcquireAsync(1).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 1);

        using var refused = await limiter.AcquireAsync(1);

        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
        Assert.Contains("MaxQueueLength", reason);
        held.Dispose();
        (await waiting.WaitAsync(Generous)).Dispose();
    }

    [Fact]
    public async Task AttemptAcquireGrantsOnlyWhatFitsNowAndNeverWaits()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");

        using var lease = limiter.AttemptAcquire(1);
        using var second = limiter.AttemptAcquire(1);

        Assert.True(lease.IsAcquired);
        Assert.False(second.IsAcquired);
        Assert.Equal(0, (await _client.GetStatsAsync(limiter.Resource)).Waiting);
    }

    [Fact]
    public async Task RetryAfterMetadataOnFailedAttemptAcquire()
    {
        using var limiter = await LimiterOver("""{"requestsPerWindow":1,"windowMs":60000}""");
        using var spent = limiter.AttemptAcquire(1);

        using var refused = limiter.AttemptAcquire(1);

        Assert.True(spent.IsAcquired);
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Contains(MetadataName.RetryAfter.Name, refused.MetadataNames);
    }

    [Fact]
    public async Task ThrowsWhenAcquiringMoreThanAllowed()
    {
        using var limiter = await LimiterOver("""{"loadPerWindow":10,"windowMs":60000}""");

        var thrown = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(11));
        Assert.Equal("permitCount", thrown.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(11));
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(-1));
    }

    [Fact]
    public async Task CanAcquireZeroPermitsWhenThereIsRoomAndTakesNothing()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");

        using (var probe = await limiter.AcquireAsync(0))
            Assert.True(probe.IsAcquired);
        Assert.Equal(0, (await _client.GetStatsAsync(limiter.Resource)).Leases);

        using var held = await limiter.AcquireAsync(1);
        using var full = await limiter.AcquireAsync(0);
        Assert.False(full.IsAcquired);
    }

    [Fact]
    public async Task CanCancelAcquireAsyncAfterQueuing()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");
        using var held = await limiter.AcquireAsync(1);
        using var cancel = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync(1, cancel.Token).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 1);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Generous));
        Assert.Equal(0, (await _client.GetStatsAsync(limiter.Resource)).Waiting); // withdrawn from the silo's waitlist
    }

    [Fact]
    public async Task CanCancelAcquireAsyncBeforeQueuing()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await limiter.AcquireAsync(1, new CancellationToken(true)));
        Assert.Equal(0, (await _client.GetStatsAsync(limiter.Resource)).Leases);
    }

    [Fact]
    public async Task DisposeFailsQueuedAcquiresAndRefusesNewOnes()
    {
        var limiter = await LimiterOver("""{"maxConcurrent":1}""");
        var held = await limiter.AcquireAsync(1);
        var waiting = limiter.AcquireAsync(1).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 1);

        await limiter.DisposeAsync();

        using var failed = await waiting.WaitAsync(Generous);
        Assert.False(failed.IsAcquired);
        Assert.True(failed.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) && reason!.Contains("disposed"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await limiter.AcquireAsync(1));
        Assert.Throws<ObjectDisposedException>(() => limiter.AttemptAcquire(1));
        Assert.Equal(0, (await _client.GetStatsAsync(limiter.Resource)).Waiting);
        // A lease held across the limiter's disposal stays valid until disposed itself.
        Assert.Equal(1, (await _client.GetStatsAsync(limiter.Resource)).Leases);
        held.Dispose();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Leases == 0);
    }

    [Fact]
    public async Task IdleDurationIsNullWhileALeaseIsHeldAndCountsOnceIdle()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1}""");
        Assert.NotNull(limiter.IdleDuration);

        var lease = await limiter.AcquireAsync(1);
        Assert.Null(limiter.IdleDuration);
        lease.Dispose();

        await Eventually.True(() => limiter.IdleDuration is not null);
        var idle = limiter.IdleDuration!.Value;
        await Eventually.True(() => limiter.IdleDuration > idle);
    }

    [Fact]
    public async Task GetStatisticsCountsThisLimitersLeasesAndShowsTheResourcesQueue()
    {
        using var limiter = await LimiterOver("""{"maxConcurrent":1,"maxQueueLength":1}""", new() { StatisticsMaxAge = TimeSpan.Zero });
        using var held = await limiter.AcquireAsync(1);
        var waiting = limiter.AcquireAsync(1).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync(limiter.Resource)).Waiting == 1);
        using var refused = await limiter.AcquireAsync(1);

        // Fetched in the background: asked again until the figures have come.
        await Eventually.True(() => limiter.GetStatistics()!.CurrentQueuedCount == 1);
        var stats = limiter.GetStatistics()!;
        Assert.Equal(1, stats.TotalSuccessfulLeases);
        Assert.Equal(1, stats.TotalFailedLeases);
        Assert.Equal(0, stats.CurrentAvailablePermits); // its one slot is held
        Assert.NotSame(stats, limiter.GetStatistics());
        held.Dispose();
        (await waiting.WaitAsync(Generous)).Dispose();
    }

    [Fact]
    public async Task APartitionedLimiterAsksEachCallsResourceAsItsClientAndPriority()
    {
        await _http.CreateResource("rl-part-a", """{"maxConcurrent":1}""");
        await _http.CreateResource("rl-part-b", """{"maxConcurrent":1}""");
        using var limiter = OrleansQueueRateLimiter.CreatePartitioned<(string Model, string User)>(_client,
            call => new OrleansQueuePartition("rl-part-" + call.Model, call.User, call.User == "vip" ? Priority.High : Priority.Normal),
            maxWait: TimeSpan.FromSeconds(30));

        using var a = await limiter.AcquireAsync(("a", "alice"));
        using var b = await limiter.AcquireAsync(("b", "bob"));
        Assert.True(a.IsAcquired && b.IsAcquired); // two resources, two budgets
        var normal = limiter.AcquireAsync(("a", "carol")).AsTask();
        await Eventually.True(async () => (await _client.GetStatsAsync("rl-part-a")).Waiting == 1);
        var vip = limiter.AcquireAsync(("a", "vip")).AsTask();
        var stats = await Eventually.Value(async () => await _client.GetStatsAsync("rl-part-a"), s => s.Waiting == 2);
        Assert.Equal(1, stats.WaitingByPriority["high"]);
        Assert.Contains("default:carol", stats.WaitingByClient.Keys); // the stats of an admin name each client with its tenant

        a.Dispose();
        var first = await Task.WhenAny(normal, vip).WaitAsync(Generous);
        Assert.Same(vip, first); // the high-priority call was granted first
        (await vip).Dispose();
        (await normal.WaitAsync(Generous)).Dispose();
    }
}
