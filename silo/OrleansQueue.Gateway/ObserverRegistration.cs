using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

/// <summary>
/// An object of the gateway made reachable by grains as an <see cref="IResourceObserver"/>. Orleans holds observer
/// objects weakly: this keeps the object alive for as long as the registration lives, and unregisters it on disposal.
/// When a silo dies, the object is told <see cref="RequestPhase.Moved"/>: what it followed there is followed no more,
/// and it attaches again (the grains it followed are activated elsewhere from the store).
/// </summary>
internal sealed class ObserverRegistration : IDisposable
{
    private static readonly RequestUpdate SiloDied = new("", 0, RequestPhase.Moved, "");

    private readonly IGrainFactory _grains;
    private readonly IResourceObserver _target; // the strong reference that keeps it alive
    private readonly IDisposable _deaths;
    private int _disposed;

    public ObserverRegistration(IGrainFactory grains, SiloDeaths deaths, IResourceObserver target)
    {
        _grains = grains;
        _target = target;
        Reference = grains.CreateObjectReference<IResourceObserver>(target);
        _deaths = deaths.OnSiloDeath(() => _ = _target.OnUpdate(SiloDied));
    }

    /// <summary>What grains are handed to push to.</summary>
    public IResourceObserver Reference { get; }

    /// <summary>How long the object stays reachable after its follower left: a push a grain sent just before it heard of
    /// the unsubscribe (a grant racing a cancel, an update racing the end of a stream) still finds it and is dropped,
    /// instead of reaching an object Orleans no longer knows (which it logs as a failure).</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(2);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _deaths.Dispose();
            _ = DeleteLaterAsync();
        }
    }

    private async Task DeleteLaterAsync()
    {
        await Task.Delay(Linger).ConfigureAwait(false);
        try
        {
            _grains.DeleteObjectReference<IResourceObserver>(Reference);
        }
        catch (ObjectDisposedException)
        {
            // The silo stopped meanwhile: its objects went with it.
        }
    }
}
