using OrleansQueue.Contracts;

namespace OrleansQueue.Silo.Gateway;

/// <summary>
/// An object of the gateway made reachable by grains as an <see cref="IResourceObserver"/>. Orleans holds observer
/// objects weakly: this keeps the object alive for as long as the registration lives, and unregisters it on disposal.
/// </summary>
public sealed class ObserverRegistration : IDisposable
{
    private readonly IGrainFactory _grains;
    private readonly IResourceObserver _target; // the strong reference that keeps it alive
    private int _disposed;

    public ObserverRegistration(IGrainFactory grains, IResourceObserver target)
    {
        _grains = grains;
        _target = target;
        Reference = grains.CreateObjectReference<IResourceObserver>(target);
    }

    /// <summary>What grains are handed to push to.</summary>
    public IResourceObserver Reference { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _grains.DeleteObjectReference<IResourceObserver>(Reference);
        }
    }
}
