using OrleansQueue.Contracts;

namespace OrleansQueue.Grains;

/// <summary>
/// Who follows which request of one resource: the observers the gateway or an Orleans client subscribed. Updates reach
/// them one-way, once durable (the grain publishes after the commit); a final update ends the request's subscriptions.
/// Touched only on the grain's turn.
/// </summary>
internal sealed class RequestObservers(Action<IResourceObserver, RequestUpdate> push)
{
    private readonly Dictionary<long, List<IResourceObserver>> _byRequest = [];

    /// <summary>How many requests have at least one observer.</summary>
    public int Count => _byRequest.Count;

    public void Subscribe(long id, IResourceObserver observer)
    {
        if (!_byRequest.TryGetValue(id, out var list))
            _byRequest[id] = list = [];
        if (!list.Contains(observer))
            list.Add(observer);
    }

    public void Unsubscribe(long id, IResourceObserver observer)
    {
        if (_byRequest.TryGetValue(id, out var list) && list.Remove(observer) && list.Count == 0)
            _byRequest.Remove(id);
    }

    /// <summary>Forgets every observer of request <paramref name="id"/> (its follower went away).</summary>
    public void Forget(long id) => _byRequest.Remove(id);

    /// <summary>Pushes <paramref name="update"/> to the observers of its request; a final one unsubscribes them.</summary>
    public void Publish(RequestUpdate update)
    {
        if (!_byRequest.TryGetValue(update.Id, out var list))
            return;
        foreach (var observer in list)
            push(observer, update);
        if (update.IsFinal)
            _byRequest.Remove(update.Id);
    }

    /// <summary>Tells every observer that the resource's grain left (it moves, or the silo stops), so that each attaches
    /// again wherever the resource lives next, and forgets them.</summary>
    public void TellMoved(string resource)
    {
        foreach (var (id, list) in _byRequest)
        {
            var moved = new RequestUpdate(resource, id, RequestPhase.Moved, "");
            foreach (var observer in list)
                push(observer, moved);
        }
        _byRequest.Clear();
    }
}
