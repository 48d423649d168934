using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// Answers given to calls that carried an idempotency key, kept for a day (or until 100,000 newer ones push
/// them out), so that a retried call gets the same answer and changes nothing.
/// </summary>
internal sealed class IdempotencyTable
{
    public static readonly long Retention = TimeSpan.TicksPerDay;
    public const int MaxEntries = 100_000;

    private readonly Dictionary<string, IdempotencyRecord> _byKey = new(StringComparer.Ordinal);
    private readonly Queue<IdempotencyRecord> _byAge = new();

    public List<IdempotencyRecord>? Added { get; set; }
    public List<string>? Removed { get; set; }

    public bool TryGet(string key, long now, out IdempotencyRecord record)
    {
        Expire(now);
        return _byKey.TryGetValue(key, out record!);
    }

    public void Add(IdempotencyRecord record)
    {
        Expire(record.CreatedAt);
        if (!_byKey.TryAdd(record.Key, record))
            return;
        _byAge.Enqueue(record);
        Added?.Add(record);
    }

    private void Expire(long now)
    {
        while (_byAge.TryPeek(out var oldest) && (oldest.CreatedAt + Retention <= now || _byAge.Count > MaxEntries))
        {
            _byAge.Dequeue();
            _byKey.Remove(oldest.Key);
            Removed?.Add(oldest.Key);
        }
    }

    public void Restore(IEnumerable<IdempotencyRecord> records)
    {
        foreach (var record in records.OrderBy(r => r.CreatedAt))
        {
            if (_byKey.TryAdd(record.Key, record))
                _byAge.Enqueue(record);
        }
    }
}
