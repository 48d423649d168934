using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using JobState = OrleansQueue.Contracts.JobState;
using Priority = OrleansQueue.Contracts.Priority;
using OrleansQueue.Gateway;

namespace OrleansQueue.Tests.Cluster;

/// <summary>Two silos of Orleans' in-process test cluster sharing one store: any silo serves any resource, pushes cross
/// silos, and a killed silo's resources go on elsewhere with their leases, waiters and jobs.</summary>
public sealed class ClusterTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private static readonly Caller Tenant = new("t", IsAdmin: true);

    [Fact]
    public async Task EverySiloServesAResourceActiveOnAnother()
    {
        await using var host = await ClusterHost.StartAsync();
        var (home, other) = (host.Silo(1), host.Silo(0));
        await host.DefineAsync(home, "anywhere", new ResourcePolicy { MaxConcurrent = 10 });
        var first = await host.Requests(home).AcquireAsync(Tenant, "anywhere", new AcquireBody("a"), null, CancellationToken.None);

        var second = await host.Requests(other).AcquireAsync(Tenant, "anywhere", new AcquireBody("b"), null, CancellationToken.None);

        Assert.Equal(1, first.Value!.FencingToken);
        Assert.Equal(2, second.Value!.FencingToken); // one budget, one fencing sequence: the same grain answered both
        var stats = await StatsAsync(host, other, "anywhere");
        Assert.Equal(home.SiloAddress.ToString(), stats.Silo);
        Assert.Equal(2, stats.Leases);
    }

    [Fact]
    public async Task AGrantIsPushedToAWaiterAttachedThroughAnotherSilo()
    {
        await using var host = await ClusterHost.StartAsync();
        var (home, other) = (host.Silo(1), host.Silo(0));
        await host.DefineAsync(home, "pushed", new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5) });
        var lease = (await host.Requests(home).AcquireAsync(Tenant, "pushed", new AcquireBody("a"), null, CancellationToken.None)).Value!;
        var follower = new Follower(host.Requests(other), "pushed");
        using var registration = host.Requests(other).Observe(follower);
        var ticket = (await host.Requests(other).AcquireAsync(Tenant, "pushed", new AcquireBody("b"), registration.Reference, CancellationToken.None)).Value!;
        Assert.Equal(RequestPhase.Waiting, ticket.State);
        follower.Follow(ticket.Id, registration.Reference);

        await host.Requests(home).ReleaseAsync(Tenant, "pushed", lease.Id, new ReleaseBody(), CancellationToken.None);

        var update = await follower.NextAsync();
        Assert.Equal((ticket.Id, RequestPhase.Granted), (update.Id, update.Phase));
        Assert.Equal(home.SiloAddress.ToString(), (await StatsAsync(host, other, "pushed")).Silo);
    }

    [Fact]
    public async Task AJobsProgressReachesAWatcherOnAnotherSiloThroughItsStream()
    {
        await using var host = await ClusterHost.StartAsync();
        var (home, other) = (host.Silo(1), host.Silo(0));
        await host.DefineAsync(home, "streamed", new ResourcePolicy { MaxConcurrent = 1 });
        var job = (await host.Jobs(home).EnqueueAsync(Tenant, "streamed", new EnqueueBody(System.Text.Json.JsonDocument.Parse("1").RootElement), CancellationToken.None)).Value!;
        var seen = Channel.CreateUnbounded<JobView>();
        var (now, watch) = await host.Jobs(other).FollowAsync(Tenant, "streamed", job.Id, v => seen.Writer.WriteAsync(v).AsTask(), CancellationToken.None);
        Assert.Equal(JobState.Queued, now.Value!.State);
        await using (watch)
        {
            var taken = await host.Jobs(home).TakeAsync(Tenant, "streamed", "w", 1, TimeSpan.Zero, CancellationToken.None);
            Assert.Equal(job.Id, Assert.Single(taken.Value!).Id);
            await host.Jobs(home).ReportAsync(Tenant, "streamed", job.Id, "progress", new WorkerReport("w", Progress: 0.5, Message: "half"), CancellationToken.None);

            using var timeout = new CancellationTokenSource(Generous);
            JobView change;
            do
                change = await seen.Reader.ReadAsync(timeout.Token);
            while (change.Progress is null);
            Assert.Equal((JobState.Running, 0.5, "half", "w"), (change.State, change.Progress.Value, change.ProgressMessage, change.WorkerId));
            Assert.Equal(home.SiloAddress.ToString(), (await StatsAsync(host, other, "streamed")).Silo);
        }
    }

    [Fact]
    public async Task AKilledSilosResourceGoesOnElsewhereWithItsLeaseWaiterAndJobAndTheWaiterIsPushedItsGrant()
    {
        await using var host = await ClusterHost.StartAsync();
        var (doomed, survivor) = (host.Silo(1), host.Silo(0));
        await host.DefineAsync(doomed, "failover", new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5), LeaseTtl = TimeSpan.FromMinutes(5) });
        var lease = (await host.Requests(doomed).AcquireAsync(Tenant, "failover", new AcquireBody("a"), null, CancellationToken.None)).Value!;
        var job = (await host.Jobs(doomed).EnqueueAsync(Tenant, "failover", new EnqueueBody(System.Text.Json.JsonDocument.Parse("{\"n\":1}").RootElement), CancellationToken.None)).Value!;
        // The waiter follows its ticket from the surviving silo, as its gateway's SSE stream would.
        var follower = new Follower(host.Requests(survivor), "failover");
        using var registration = host.Requests(survivor).Observe(follower);
        var ticket = (await host.Requests(survivor).AcquireAsync(Tenant, "failover", new AcquireBody("b"), registration.Reference, CancellationToken.None)).Value!;
        follower.Follow(ticket.Id, registration.Reference);
        Assert.Equal(doomed.SiloAddress.ToString(), (await StatsAsync(host, survivor, "failover")).Silo);

        await host.Cluster.KillSiloAsync(doomed);

        // The survivor hears of the death, the follower attaches again, and the resource is active on the survivor
        // with what was committed: the lease (still holding the one slot), the waiter in its place, the job queued.
        await follower.ReattachedAsync.WaitAsync(Generous);
        var stats = await StatsAsync(host, survivor, "failover");
        Assert.Equal(survivor.SiloAddress.ToString(), stats.Silo);
        Assert.Equal((1, 1), (stats.Leases, stats.Waiting));
        Assert.Equal(JobState.Queued, (await host.Jobs(survivor).GetAsync(Tenant, "failover", job.Id, CancellationToken.None)).Value!.State);

        await host.Requests(survivor).ReleaseAsync(Tenant, "failover", lease.Id, new ReleaseBody(), CancellationToken.None);

        var granted = await follower.NextAsync(RequestPhase.Granted);
        Assert.Equal(ticket.Id, granted.Id);
        Assert.True(granted.FencingToken > lease.FencingToken); // the fencing sequence went on, never back
    }

    [Fact]
    public async Task NoBudgetIsGrantedTwiceAcrossAFailover()
    {
        await using var host = await ClusterHost.StartAsync();
        var (doomed, survivor) = (host.Silo(1), host.Silo(0));
        await host.DefineAsync(doomed, "budget", new ResourcePolicy { MaxConcurrent = 2, RequestsPerWindow = 3, Window = TimeSpan.FromHours(1), DefaultMaxWait = TimeSpan.Zero });
        var granted = new List<long>();
        for (int i = 0; i < 2; i++)
            granted.Add((await host.Requests(doomed).AcquireAsync(Tenant, "budget", new AcquireBody("c" + i), null, CancellationToken.None)).Value!.FencingToken!.Value);

        await host.Cluster.KillSiloAsync(doomed);

        // Both slots are still held: a third caller is refused, not granted, by the resource's next activation.
        var refused = await AcquireUntilAnsweredAsync(host.Requests(survivor), "budget", "late");
        Assert.Equal("urn:orleansqueue:problem:timed-out", refused.Problem?.Type);
        var stats = await StatsAsync(host, survivor, "budget");
        Assert.Equal((2, 1L), (stats.Leases, stats.RequestsLeftInWindow ?? -1));
        var release = await host.Requests(survivor).ReleaseAsync(Tenant, "budget", 1, new ReleaseBody(), CancellationToken.None);
        Assert.Null(release.Problem);
        var last = (await host.Requests(survivor).AcquireAsync(Tenant, "budget", new AcquireBody("last"), null, CancellationToken.None)).Value!;
        Assert.DoesNotContain(last.FencingToken!.Value, granted);
        // The window's three requests are spent: nothing more until it turns, whoever asks and wherever.
        var spent = await host.Requests(survivor).AcquireAsync(Tenant, "budget", new AcquireBody("more"), null, CancellationToken.None);
        Assert.NotNull(spent.Problem);
    }

    /// <summary>Until the cluster has noticed the death, a call to the dead silo's resource may fail as unavailable: retry.</summary>
    private static async Task<Outcome<RequestView>> AcquireUntilAnsweredAsync(RequestOperations requests, string resource, string client)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (true)
        {
            var outcome = await requests.AcquireAsync(Tenant, resource, new AcquireBody(client), null, CancellationToken.None);
            if (outcome.Problem?.Status != 503 || DateTime.UtcNow > deadline)
                return outcome;
            await Task.Delay(100);
        }
    }

    private static async Task<StatsView> StatsAsync(ClusterHost host, Orleans.TestingHost.InProcessSiloHandle silo, string resource)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (true)
        {
            var outcome = await silo.ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IResourceAdministration>(resource).Stats(Tenant).WaitAsync(Generous);
            if (outcome.Value is { } stats || DateTime.UtcNow > deadline)
                return outcome.Value ?? throw new InvalidOperationException(outcome.Problem?.Detail);
            await Task.Delay(100);
        }
    }

    /// <summary>Follows one request as the gateway's SSE stream does: on "moved" it attaches again where the resource now lives.</summary>
    private sealed class Follower(RequestOperations requests, string resource) : IResourceObserver
    {
        private readonly Channel<RequestUpdate> _updates = Channel.CreateUnbounded<RequestUpdate>();
        private readonly TaskCompletionSource _reattached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private (long Id, IResourceObserver Self)? _followed;

        public Task ReattachedAsync => _reattached.Task;

        public void Follow(long id, IResourceObserver self) => _followed = (id, self);

        public Task OnUpdate(RequestUpdate update)
        {
            // An in-process kill may still let the dead silo's grain say "moved" as it goes; under kill -9 it says nothing.
            // Only the survivor's word that a silo died (a "moved" naming no resource) counts here, as it would there.
            if (update.Phase == RequestPhase.Moved && update.Resource.Length == 0)
                _ = ReattachAsync();
            else if (update.Phase == RequestPhase.Moved)
                return Task.CompletedTask;
            else
                _updates.Writer.TryWrite(update);
            return Task.CompletedTask;
        }

        private async Task ReattachAsync()
        {
            if (_followed is not { } followed)
                return;
            var deadline = DateTime.UtcNow + Generous;
            while (DateTime.UtcNow < deadline)
            {
                var attached = await requests.AttachAsync(Tenant, resource, followed.Id, followed.Self, CancellationToken.None);
                if (attached.Problem is null)
                {
                    _reattached.TrySetResult();
                    return;
                }
                await Task.Delay(100);
            }
            _reattached.TrySetException(new TimeoutException("could not attach again"));
        }

        public async Task<RequestUpdate> NextAsync(RequestPhase? phase = null)
        {
            using var timeout = new CancellationTokenSource(Generous);
            while (true)
            {
                var update = await _updates.Reader.ReadAsync(timeout.Token);
                if (phase is null || update.Phase == phase)
                    return update;
            }
        }
    }
}
