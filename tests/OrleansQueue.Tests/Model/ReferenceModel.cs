using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Model;

/// <summary>
/// A naive, obviously-correct account of what the scheduler has promised: who waits, who holds a lease,
/// and every unit of budget spent. Lists and linear scans only, so it shares no code or cleverness with
/// the scheduler it checks.
/// </summary>
internal sealed class ReferenceModel(ResourcePolicy policy)
{
    internal sealed record Waiter(long Id, string Client, long Load, Priority Priority, long EnqueuedAt, long Deadline)
    {
        /// <summary>The level reached under earlier aging intervals: promotions are never undone.</summary>
        public int ReachedLevel { get; set; } = (int)Priority;
    }

    internal sealed class Lease(long id, string client, long load, long expiresAt, bool claimed)
    {
        public long Id { get; } = id;
        public string Client { get; } = client;
        public long Load { get; } = load;
        public long ExpiresAt { get; set; } = expiresAt;
        public bool Claimed { get; set; } = claimed;
        public int LogIndex { get; set; } = -1;
        public long FencingToken { get; set; }
    }

    internal sealed record Spend(long At, long Load, int Requests)
    {
        public long Load { get; set; } = Load;
    }

    public ResourcePolicy Policy { get; set; } = policy;
    public Dictionary<long, Waiter> Waiting { get; } = [];
    public Dictionary<long, Lease> Leases { get; } = [];
    public List<Spend> Log { get; } = [];
    public long LastFencingToken { get; set; }

    /// <summary>The priority less one level per aging interval waited (with the interval in force), never below a level reached before.</summary>
    public int EffectiveLevel(Waiter w, long now)
    {
        int level = (int)w.Priority;
        if (Policy.AgingInterval is { } aging)
            level -= (int)Math.Min(level, (now - w.EnqueuedAt) / aging.Ticks);
        return Math.Min(level, w.ReachedLevel);
    }

    /// <summary>A restore gives every grant not yet claimed a whole claim window from then (its waiter may not have heard of it).</summary>
    public void Restored(long now)
    {
        foreach (var lease in Leases.Values.Where(l => !l.Claimed))
            lease.ExpiresAt = Math.Max(lease.ExpiresAt, now + Policy.ClaimWindow.Ticks);
    }

    public void ChangePolicy(ResourcePolicy next, long now)
    {
        foreach (var w in Waiting.Values)
            w.ReachedLevel = EffectiveLevel(w, now);
        Policy = next;
        ForgetSpendingIfUnlimited();
    }

    // Spending is logged in time order; entries before this index have left the window for good
    // (the model test never lengthens the window).
    private int _firstInWindow;

    public (long Requests, long Load) SpentInWindow(long now)
    {
        long horizon = now - Policy.Window.Ticks;
        while (_firstInWindow < Log.Count && Log[_firstInWindow].At <= horizon)
            _firstInWindow++;
        long requests = 0, load = 0;
        for (int i = _firstInWindow; i < Log.Count; i++)
        {
            requests += Log[i].Requests;
            load += Log[i].Load;
        }
        return (requests, load);
    }

    public string? WhyItDoesNotFit(long load, long now)
    {
        if (Policy.MaxConcurrent is { } mc && Leases.Count >= mc)
            return $"{Leases.Count} leases held, MaxConcurrent {mc}";
        var (requests, spent) = SpentInWindow(now);
        if (Policy.RequestsPerWindow is { } rpw && requests + 1 > rpw)
            return $"{requests} requests in window, RequestsPerWindow {rpw}";
        if (Policy.LoadPerWindow is { } lpw && spent + load > lpw)
            return $"{spent} load in window + {load} > LoadPerWindow {lpw}";
        return null;
    }

    /// <summary>Records a grant; mirrors the scheduler's rule that spending is logged only under a rate limit.</summary>
    public Lease AddLease(long id, string client, long load, long now, long expiresAt, bool claimed)
    {
        var lease = new Lease(id, client, load, expiresAt, claimed);
        if (Policy.RequestsPerWindow is not null || Policy.LoadPerWindow is not null)
        {
            Log.Add(new Spend(now, load, 1));
            lease.LogIndex = Log.Count - 1;
        }
        Leases.Add(id, lease);
        return lease;
    }

    /// <summary>Applies an actual-load correction: in place while the spend is in the window, else late if it is extra.</summary>
    public void Correct(Lease lease, long actual, long now)
    {
        if (Policy.RequestsPerWindow is null && Policy.LoadPerWindow is null)
            return;
        long delta = actual - lease.Load;
        long horizon = now - Policy.Window.Ticks;
        if (lease.LogIndex >= 0 && Log[lease.LogIndex].At > horizon)
            Log[lease.LogIndex].Load += Math.Max(delta, -Log[lease.LogIndex].Load);
        else if (delta > 0)
            Log.Add(new Spend(now, delta, 0));
    }

    /// <summary>The scheduler forgets all spending when the last rate limit is removed; so does the model.</summary>
    public void ForgetSpendingIfUnlimited()
    {
        if (Policy.RequestsPerWindow is null && Policy.LoadPerWindow is null)
        {
            _firstInWindow = Log.Count;
            foreach (var lease in Leases.Values)
                lease.LogIndex = -1;
        }
    }
}
