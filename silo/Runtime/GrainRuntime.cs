using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrleansQueue.Grains;
using OrleansQueue.Silo.Cluster;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Runtime;

/// <summary>
/// Hosts the grains of this silo: activates a resource's grain on first use (one activation per resource),
/// routes calls to it, and manages resources. The gateway talks only to this class, so that a cluster can
/// put placement and forwarding behind the same calls.
/// </summary>
public sealed partial class GrainRuntime : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<GrainActivation>>> _activations = new(StringComparer.Ordinal);
    private readonly IGrainStore _store;
    private readonly TimeProvider _time;
    private readonly SiloMetrics _metrics;
    private readonly ILogger<GrainRuntime> _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly ClusterView _cluster;
    private volatile bool _stopping;

    public GrainRuntime(IGrainStore store, TimeProvider time, SiloMetrics metrics, ILogger<GrainRuntime> logger, TimeSpan idleTimeout,
        ClusterView? cluster = null)
    {
        _cluster = cluster ?? ClusterView.Single();
        _store = store;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _idleTimeout = idleTimeout;
        metrics.ObserveDepths(() => ActiveResources().Select(a => (a.Name, a.Waiting, a.Leases)));
        metrics.ObserveCluster(() => _cluster.Silos.Count);
    }

    public IGrainStore Store => _store;

    public ClusterView Cluster => _cluster;

    /// <summary>Runs <paramref name="call"/> on resource <paramref name="resource"/>'s grain, one turn at a time, and
    /// answers after the turn's changes are committed.</summary>
    /// <exception cref="UnknownResourceException">The resource does not exist.</exception>
    /// <exception cref="StoreUnavailableException">The store failed the write; nothing took effect.</exception>
    /// <exception cref="NotOwnerException">The resource belongs on another silo.</exception>
    /// <exception cref="SiloUnavailableException">This silo has lost its heartbeat, or is shutting down, and acts on no resource.</exception>
    public async Task<T> CallAsync<T>(string resource, Func<GrainTurn, T> call, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            ThrowIfStopping();
            if (!_cluster.IsHealthy)
                throw new SiloUnavailableException();
            var activation = await ActivateAsync(resource, cancellationToken);
            try
            {
                return await activation.CallAsync(call).WaitAsync(cancellationToken);
            }
            catch (ActivationClosedException) when (attempt < 10)
            {
                // Deactivated between lookup and call: the next attempt activates afresh from the store.
            }
        }
    }

    /// <summary>Creates the resource or changes its definition; a live grain takes the new policy at once.</summary>
    public async Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken = default)
    {
        ThrowIfStopping();
        bool created = await _store.PutResourceAsync(definition, cancellationToken);
        if (!created && _activations.TryGetValue(definition.Name, out var lazy) && lazy.IsValueCreated)
        {
            try
            {
                var activation = await lazy.Value;
                await activation.CallAsync(turn => { turn.ApplyDefinition(definition); return 0; });
            }
            catch (ActivationClosedException)
            {
                // Closed meanwhile: the next activation loads the new definition from the store.
            }
        }
        LogResourcePut(definition.Name, created);
        return created;
    }

    /// <summary>Deletes the resource: its waiting requests are refused as deleted and its state is removed.</summary>
    public async Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken = default)
    {
        ThrowIfStopping();
        bool existed = await _store.DeleteResourceAsync(name, cancellationToken);
        if (_activations.TryGetValue(name, out var lazy))
        {
            try
            {
                var activation = await lazy.Value;
                await activation.CallAsync(turn => { turn.Close(); return 0; });
            }
            catch (Exception ex) when (ex is ActivationClosedException or UnknownResourceException)
            {
            }
        }
        LogResourceDeleted(name, existed);
        return existed;
    }

    public Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfStopping();
        return _store.ListResourcesAsync(cancellationToken);
    }

    public Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken = default)
    {
        ThrowIfStopping();
        return _store.GetResourceAsync(name, cancellationToken);
    }

    /// <summary>Once shutdown has begun, no call may activate a grain or reach the store that is about to close.</summary>
    private void ThrowIfStopping()
    {
        if (_stopping)
            throw SiloUnavailableException.Stopping();
    }

    /// <summary>The activations live now.</summary>
    public IEnumerable<GrainActivation> ActiveResources() =>
        _activations.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully).Select(l => l.Value.Result);

    private Task<GrainActivation> ActivateAsync(string resource, CancellationToken cancellationToken)
    {
        if (_cluster.OwnerOf(resource) is var owner && owner.Id != _cluster.Local.Id)
            throw new NotOwnerException(resource, owner);
        var lazy = _activations.GetOrAdd(resource, name => new Lazy<Task<GrainActivation>>(() => LoadAsync(name)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
            _activations.TryRemove(new(resource, lazy));
        return task.WaitAsync(cancellationToken);
    }

    private async Task<GrainActivation> LoadAsync(string name)
    {
        var definition = await _store.GetResourceAsync(name, CancellationToken.None) ?? throw new UnknownResourceException(name);
        var claimed = await _store.ClaimAsync(name, _cluster.Local.Id, CancellationToken.None) ?? throw new UnknownResourceException(name);
        var grain = ResourceScheduler.Restore(name, claimed.Snapshot, _time);
        LogActivated(name, claimed.Epoch, grain.WaitingCount, grain.LeaseCount);
        return new GrainActivation(name, claimed.Epoch, definition, grain, _store, _time, _metrics, _logger, _idleTimeout, OnClosed, _cluster);
    }

    private void OnClosed(GrainActivation activation)
    {
        foreach (var (name, lazy) in _activations)
        {
            if (name == activation.Name && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && lazy.Value.Result == activation)
                _activations.TryRemove(new(name, lazy));
        }
        // Gone idle: nothing waits, so no silo need run it until someone calls. A grain that moves or stops keeps its
        // owner, so that the silo taking over knows it has work and activates it at once.
        if (activation.WentIdle)
            _ = _store.ReleaseAsync(activation.Name, activation.Epoch, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>
    /// Brings the activations in line with the cluster view: hands off the grains that now belong elsewhere (or all of
    /// them, when this silo has lost its heartbeat), and activates at once the grains placed here that some other silo,
    /// dead or alive, owned with work pending, so their timers and grants go on without waiting for a call.
    /// </summary>
    public async Task RebalanceAsync(CancellationToken cancellationToken)
    {
        bool healthy = _cluster.IsHealthy;
        var leaving = ActiveResources().Where(a => !healthy || !_cluster.IsLocal(a.Name)).ToList();
        await Task.WhenAll(leaving.Select(DeactivateAsync));
        if (!healthy)
            return;
        var owned = await _store.ListOwnedAsync(cancellationToken);
        var arriving = owned.Where(o => _cluster.IsLocal(o.Name) && !_activations.ContainsKey(o.Name)).Select(o => o.Name).ToList();
        if (arriving.Count > 0 || leaving.Count > 0)
            LogRebalanced(_cluster.ToString(), leaving.Count, arriving.Count);
        await Task.WhenAll(arriving.Select(async name =>
        {
            try
            {
                await ActivateAsync(name, cancellationToken);
            }
            catch (Exception ex) when (ex is UnknownResourceException or NotOwnerException or StoreUnavailableException)
            {
            }
            catch (Exception ex)
            {
                LogActivationFailed(ex, name);
            }
        }));
    }

    /// <summary>Ends every activation after its current turn, keeping ownership so that another silo takes the work over.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await Task.WhenAll(ActiveResources().ToList().Select(DeactivateAsync));
    }

    private static async Task DeactivateAsync(GrainActivation activation)
    {
        try
        {
            await activation.CallAsync(turn => { turn.Deactivate(); return 0; });
        }
        catch (Exception ex) when (ex is ActivationClosedException or GrainCallException)
        {
            // Closed already, or its last turn could not commit (the silo lost the cluster): it is gone either way.
        }
    }

    [LoggerMessage(LogLevel.Information, "Resource {Resource} activated under epoch {Epoch} with {Waiting} waiting and {Leases} leases")]
    private partial void LogActivated(string resource, long epoch, int waiting, int leases);

    [LoggerMessage(LogLevel.Information, "Cluster view [{Silos}]: {Leaving} grains handed off, {Arriving} taken over")]
    private partial void LogRebalanced(string silos, int leaving, int arriving);

    [LoggerMessage(LogLevel.Warning, "Resource {Resource} could not be activated while taking it over")]
    private partial void LogActivationFailed(Exception ex, string resource);

    [LoggerMessage(LogLevel.Information, "Resource {Resource} defined (created: {Created})")]
    private partial void LogResourcePut(string resource, bool created);

    [LoggerMessage(LogLevel.Information, "Resource {Resource} deleted (existed: {Existed})")]
    private partial void LogResourceDeleted(string resource, bool existed);
}
