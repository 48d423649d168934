namespace OrleansQueue.Scheduling.Persistence;

/// <summary>
/// The stored state of one grain held as plain collections: folds <see cref="ResourceChanges"/> in, gives a
/// <see cref="ResourceSnapshot"/> out. What an in-memory store keeps; also the reference for what a database store must do.
/// </summary>
public sealed class StoredResourceState(ResourcePolicy policy)
{
    private readonly Dictionary<long, RequestRecord> _requests = [];
    private readonly Dictionary<long, JobRecord> _jobs = [];
    private readonly Dictionary<long, List<JobOutputChunk>> _output = [];
    private readonly SortedDictionary<long, WindowRecord> _window = [];
    private readonly Dictionary<string, IdempotencyRecord> _idempotency = new(StringComparer.Ordinal);
    private ResourcePolicy _policy = policy;
    private long _lastId, _lastFencingToken, _windowNextSeq, _savedAt;

    /// <summary>The stored policy.</summary>
    public ResourcePolicy Policy => _policy;

    /// <summary>Folds one commit in.</summary>
    public void Apply(ResourceChanges changes)
    {
        foreach (var record in changes.UpsertRequests)
            _requests[record.Id] = record;
        foreach (var record in changes.UpsertJobs)
            _jobs[record.Id] = record;
        foreach (var chunk in changes.AppendOutput)
        {
            if (!_output.TryGetValue(chunk.JobId, out var chunks))
                _output[chunk.JobId] = chunks = [];
            chunks.Add(chunk);
        }
        foreach (long id in changes.DeleteRequests)
        {
            _requests.Remove(id);
            _jobs.Remove(id);
            _output.Remove(id);
        }
        foreach (var record in changes.UpsertWindow)
            _window[record.Seq] = record;
        foreach (long seq in _window.Keys.TakeWhile(seq => seq < changes.WindowHeadSeq).ToList())
            _window.Remove(seq);
        foreach (var record in changes.AddIdempotency)
            _idempotency[record.Key] = record;
        foreach (string key in changes.DeleteIdempotency)
            _idempotency.Remove(key);
        _policy = changes.Policy ?? _policy;
        _lastId = changes.LastId;
        _lastFencingToken = changes.LastFencingToken;
        _windowNextSeq = changes.WindowNextSeq;
        _savedAt = changes.SavedAt;
    }

    /// <summary>Replaces the policy (an administrative edit outside any grain turn).</summary>
    public void SetPolicy(ResourcePolicy policy) => _policy = policy;

    /// <summary>The state to restore from.</summary>
    public ResourceSnapshot ToSnapshot() => new()
    {
        Policy = _policy,
        LastId = _lastId,
        LastFencingToken = _lastFencingToken,
        WindowNextSeq = _windowNextSeq,
        SavedAt = _savedAt,
        Requests = [.. _requests.Values],
        Jobs = [.. _jobs.Values],
        Output = [.. _output.Values.SelectMany(chunks => chunks)],
        Window = [.. _window.Values],
        Idempotency = [.. _idempotency.Values],
    };
}
