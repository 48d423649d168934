using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// Weighted fairness within a level (<see cref="ResourcePolicy.ClientWeights"/>, in the fair queue's virtual time) and a
/// floor under each level's share of granted load (<see cref="ResourcePolicy.MinShares"/>). Strict priority otherwise:
/// each grant credits every backlogged level with a floor its share of the load granted, and debits the level served; a
/// level whose credit is positive is owed, and its head goes before the strict-priority head. A level served by strict
/// priority (nothing more urgent waiting) banks no surplus, and a level that stops waiting forgets its credit, so over any
/// stretch of time in which a level is backlogged it receives at least its share, less one request of each level (the
/// more urgent levels owed at the same time each go once first).
/// </summary>
public sealed partial class ResourceScheduler
{
    private readonly double[] _minShares = new double[PriorityLevels.Count];
    private readonly double[] _shareCredit = new double[PriorityLevels.Count];
    private bool _hasMinShares;

    private void ApplySharesAndWeights(ResourcePolicy policy)
    {
        Array.Clear(_minShares);
        foreach (var (level, share) in policy.MinShares ?? new Dictionary<Priority, double>())
            _minShares[(int)level] = share;
        _hasMinShares = _minShares.Any(s => s > 0);
        var weights = policy.ClientWeights is { Count: > 0 } ? WeightOf : (Func<string, int>?)null;
        _waitlist.Reweigh(weights);
        _jobs.Queue.Reweigh(weights);
    }

    /// <summary>A client's weight: by its id, or by its name within its tenant (the part after the first colon); else 1.</summary>
    private int WeightOf(string clientId)
    {
        var weights = _policy.ClientWeights!;
        if (weights.TryGetValue(clientId, out int weight))
            return weight;
        return ClientKey.TryParse(clientId, out var key) && weights.TryGetValue(key.Name, out weight) ? weight : 1;
    }

    /// <summary>Whether anything at <paramref name="level"/> could be served: acquires always, jobs while a worker waits.</summary>
    private bool BackloggedAt(int level) => _waitlist.WaitingAt(level) > 0 || _jobs.BackloggedAt(level);

    /// <summary>Whether a level with a minimum share waits and is owed load.</summary>
    private bool AnyLevelOwed()
    {
        if (!_hasMinShares)
            return false;
        for (int level = 0; level < PriorityLevels.Count; level++)
        {
            if (_shareCredit[level] > 0 && BackloggedAt(level))
                return true;
        }
        return false;
    }

    /// <summary>The head of the most urgent level below <paramref name="level"/> that is owed its share, if any.</summary>
    private Request? OwedHeadBelow(int level)
    {
        for (int below = level + 1; below < PriorityLevels.Count; below++)
        {
            if (_shareCredit[below] > 0 && BackloggedAt(below))
                return HeadAt(below);
        }
        return null;
    }

    /// <summary>The next request at <paramref name="level"/>: the acquire's or the job's (while a worker waits), the older first.</summary>
    private Request? HeadAt(int level)
    {
        var acquire = _waitlist.HeadAt(level);
        var job = _jobs.EligibleHeadAt(level);
        if (acquire is null || job is null)
            return acquire ?? job;
        return acquire.QueueSeq <= job.QueueSeq ? acquire : job;
    }

    /// <summary>Books a grant of <paramref name="load"/> at <paramref name="servedLevel"/> against every level's share.</summary>
    private void CreditShares(int servedLevel, long load)
    {
        if (!_hasMinShares)
            return;
        bool strict = true;
        for (int level = 0; level < servedLevel; level++)
            strict &= !BackloggedAt(level);
        for (int level = 0; level < PriorityLevels.Count; level++)
        {
            if (!BackloggedAt(level))
                _shareCredit[level] = 0;
            else if (_minShares[level] > 0)
                _shareCredit[level] += _minShares[level] * load;
        }
        _shareCredit[servedLevel] -= load;
        if (strict || !BackloggedAt(servedLevel))
            _shareCredit[servedLevel] = Math.Max(0, _shareCredit[servedLevel]);
    }
}
