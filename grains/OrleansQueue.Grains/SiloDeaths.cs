using System.Collections.Concurrent;

namespace OrleansQueue.Grains;

/// <summary>
/// Follows Orleans' membership. When a silo is declared dead, the resources it owned are activated again elsewhere at once
/// (their next activation restores their waiters and leases from the store, and their timers go on), and whoever on this
/// silo follows requests hears so, to attach again: observers subscribed on the dead silo's grains were lost with it.
/// </summary>
internal sealed partial class SiloDeaths(IClusterMembershipService membership, ResourceCatalog catalog, ILogger<SiloDeaths> logger) : BackgroundService
{
    private readonly HashSet<SiloAddress> _dead = [];
    private readonly ConcurrentDictionary<Registration, Action> _listeners = new();

    /// <summary>Calls <paramref name="reattach"/> after each silo death, until the returned registration is disposed.</summary>
    public IDisposable OnSiloDeath(Action reattach)
    {
        var registration = new Registration(this);
        _listeners[registration] = reattach;
        return registration;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var newlyDead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead && _dead.Add(m.SiloAddress)).ToList();
                foreach (var member in newlyDead)
                {
                    LogSiloDied(member.SiloAddress.ToString());
                    try
                    {
                        await catalog.WakeOwnedAsync(member.SiloAddress.ToString(), stoppingToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogWakeFailed(ex, member.SiloAddress.ToString());
                    }
                }
                if (newlyDead.Count > 0)
                {
                    foreach (var reattach in _listeners.Values)
                        reattach();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(LogLevel.Warning, "Silo {Silo} was declared dead: its resources are taken over")]
    private partial void LogSiloDied(string silo);

    [LoggerMessage(LogLevel.Error, "The resources of dead silo {Silo} could not all be woken; they wake on their next call")]
    private partial void LogWakeFailed(Exception ex, string silo);

    private sealed class Registration(SiloDeaths owner) : IDisposable
    {
        public void Dispose() => owner._listeners.TryRemove(this, out _);
    }
}
