using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Runtime;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Cluster;

/// <summary>
/// Keeps this silo in the cluster: heartbeats its row in the shared store every interval, takes the live members from
/// the answer (judged on the store's clock), and rebalances the grains when the members change. A silo whose
/// heartbeats stop getting through stops acting as an owner before the others can judge it dead and take over.
/// Does nothing for a silo on its own.
/// </summary>
internal sealed partial class ClusterMembership(ClusterView view, IGrainStore grains, GrainRuntime runtime, IServer server,
    IHostApplicationLifetime lifetime, ClusterOptions options, TimeProvider time, ILogger<ClusterMembership> logger) : BackgroundService
{
    /// <summary>Rebalances this often even when nothing seems to change, to pick up a claim that failed.</summary>
    private const int RebalanceEveryBeats = 10;

    private readonly IMembershipStore? _store = view.IsClustered ? (IMembershipStore)grains : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_store is not { } store || !await WaitForStartAsync(stoppingToken))
            return;
        if (options.Address is not { Length: > 0 } address)
            address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "";
        view.Local = view.Local with { Address = address.TrimEnd('/') };
        LogJoining(view.Local.Id, view.Local.Address);
        bool wasHealthy = false;
        using var timer = new PeriodicTimer(options.HeartbeatInterval, time);
        for (int beat = 0; !stoppingToken.IsCancellationRequested; beat++)
        {
            bool changed = false;
            if (!view.Paused)
            {
                long started = time.GetTimestamp();
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(options.HeartbeatInterval * 2);
                    var silos = await store.HeartbeatAsync(view.Local, options.DeadAfter, timeout.Token);
                    changed = view.Update(silos, started);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogHeartbeatFailed(ex);
                }
            }
            bool healthy = view.IsHealthy;
            if (healthy != wasHealthy)
            {
                if (healthy)
                    LogHealthy(view.Local.Id, view.ToString());
                else
                    LogSuspended(view.Local.Id);
            }
            if (changed || healthy != wasHealthy || beat % RebalanceEveryBeats == 0)
                await RebalanceQuietlyAsync(stoppingToken);
            wasHealthy = healthy;
            try
            {
                await timer.WaitForNextTickAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Leaves the cluster at once, so the others take this silo's resources over without waiting to judge it dead.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_store is not { } store || view.Paused)
            return; // a frozen silo cannot leave: the others find it dead
        try
        {
            await store.LeaveAsync(view.Local.Id, cancellationToken);
        }
        catch (Exception ex)
        {
            LogHeartbeatFailed(ex);
        }
    }

    private async Task<bool> WaitForStartAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        try
        {
            await started.Task.WaitAsync(stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RebalanceQuietlyAsync(CancellationToken stoppingToken)
    {
        try
        {
            await runtime.RebalanceAsync(stoppingToken);
        }
        catch (Exception ex)
        {
            if (!stoppingToken.IsCancellationRequested)
                LogRebalanceFailed(ex);
        }
    }

    [LoggerMessage(LogLevel.Information, "Silo {Silo} joining the cluster at {Address}")]
    private partial void LogJoining(string silo, string address);

    [LoggerMessage(LogLevel.Information, "Silo {Silo} is in the cluster: [{Silos}]")]
    private partial void LogHealthy(string silo, string silos);

    [LoggerMessage(LogLevel.Warning, "Silo {Silo} has no recent heartbeat: it stops acting on resources until one gets through")]
    private partial void LogSuspended(string silo);

    [LoggerMessage(LogLevel.Warning, "Heartbeat failed")]
    private partial void LogHeartbeatFailed(Exception ex);

    [LoggerMessage(LogLevel.Error, "Rebalance failed")]
    private partial void LogRebalanceFailed(Exception ex);
}
