using OrleansQueue.Contracts;

namespace OrleansQueue.Grains;

/// <summary>
/// How recently ended requests ended, so that a caller who polls after a timeout or expiry learns what
/// happened rather than "unknown". Bounded: the oldest are forgotten first. Touched only on the grain's turn.
/// </summary>
internal sealed class RecentOutcomes(int capacity = 10_000)
{
    private readonly Dictionary<long, RequestUpdate> _byId = [];
    private readonly Queue<long> _order = new();

    public void Record(RequestUpdate update)
    {
        if (!_byId.TryAdd(update.Id, update))
        {
            _byId[update.Id] = update;
            return;
        }
        _order.Enqueue(update.Id);
        while (_order.Count > capacity)
            _byId.Remove(_order.Dequeue());
    }

    public RequestUpdate? Find(long id) => _byId.GetValueOrDefault(id);
}
