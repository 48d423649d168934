using Orleans.Concurrency;

namespace OrleansQueue.Contracts;

/// <summary>
/// Receives the updates of the requests and jobs it subscribed to, each after the commit that holds it. One-way: the
/// grain never waits for an observer, and an observer that has gone simply misses its update (a grant it does not claim
/// within the claim window returns to the pool).
/// </summary>
[Alias("OrleansQueue.IResourceObserver")]
public interface IResourceObserver : IGrainObserver
{
    [OneWay, Alias("OnUpdate")]
    Task OnUpdate(RequestUpdate update);
}
