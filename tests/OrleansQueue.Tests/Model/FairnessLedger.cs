namespace OrleansQueue.Tests.Model;

/// <summary>
/// Counts grants per client and level, and for every two clients backlogged at the same level at once
/// remembers both counts from the moment the later one became backlogged. Between clients whose
/// requests all have the same load, the grants since then may never differ by more than one.
/// </summary>
internal sealed class FairnessLedger
{
    private readonly Dictionary<(string Client, int Level), long> _grants = [];
    private readonly Dictionary<(string Client, int Level), int> _waiting = [];
    private readonly Dictionary<(string A, string B, int Level), (long A, long B)> _baselines = [];

    public void Joined(ReferenceModel.Waiter waiter, ReferenceModel model)
    {
        int level = model.EffectiveLevel(waiter, waiter.EnqueuedAt);
        var key = (waiter.Client, level);
        int count = _waiting.GetValueOrDefault(key) + 1;
        _waiting[key] = count;
        if (count != 1)
            return;
        foreach (var ((other, otherLevel), n) in _waiting)
        {
            if (otherLevel != level || n == 0 || other == waiter.Client)
                continue;
            _baselines[(waiter.Client, other, level)] = (Count(waiter.Client, level), Count(other, level));
            _baselines[(other, waiter.Client, level)] = (Count(other, level), Count(waiter.Client, level));
        }
    }

    public void Left(ReferenceModel.Waiter waiter, ReferenceModel model)
    {
        int level = (int)waiter.Priority;
        var key = (waiter.Client, level);
        int count = _waiting[key] - 1;
        _waiting[key] = count;
        if (count > 0)
            return;
        foreach (var pair in _baselines.Keys.Where(k => k.Level == level && (k.A == waiter.Client || k.B == waiter.Client)).ToList())
            _baselines.Remove(pair);
    }

    /// <summary>Judges fairness from now on only: every pair backlogged now starts from its current counts.</summary>
    public void StartAfresh()
    {
        foreach (var key in _baselines.Keys.ToList())
            _baselines[key] = (Count(key.A, key.Level), Count(key.B, key.Level));
    }

    /// <summary>Counts a grant; returns what is unfair about the counts afterwards, if anything.</summary>
    public string? Granted(string client, int level)
    {
        _grants[(client, level)] = Count(client, level) + 1;
        foreach (var ((a, b, l), (baseA, baseB)) in _baselines)
        {
            if (l != level || a != client)
                continue;
            long sinceA = Count(a, level) - baseA, sinceB = Count(b, level) - baseB;
            if (Math.Abs(sinceA - sinceB) > 1)
                return $"while both were backlogged at level {level}, {a} got {sinceA} grants and {b} got {sinceB}";
        }
        return null;
    }

    private long Count(string client, int level) => _grants.GetValueOrDefault((client, level));
}
