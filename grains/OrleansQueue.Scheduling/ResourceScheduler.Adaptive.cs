using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

public sealed partial class ResourceScheduler
{
    /// <summary>The longest pause a report can cause, whatever the upstream says.</summary>
    public static readonly TimeSpan MaxPause = TimeSpan.FromMinutes(10);

    /// <summary>The pause after a 429 that says neither retry-after nor a reset.</summary>
    public static readonly TimeSpan DefaultPause = TimeSpan.FromSeconds(1);

    private readonly Adaptation _adaptation = new();

    /// <summary>
    /// What the upstream answered a caller (while it holds lease <paramref name="leaseId"/>, or as it releases it; or with
    /// no lease named). Ignored when the policy's <see cref="ResourcePolicy.Adaptive"/> is off; otherwise a 429 or a
    /// retry-after pauses grants, and the figures adjust the limits in force as the mode says (<see cref="Adaptation"/>).
    /// A report naming a pushed grant not yet claimed claims it: its holder is there.
    /// </summary>
    public void ReportUpstream(UpstreamReport report, long? leaseId = null)
    {
        long now = Now();
        Advance(now);
        if (leaseId is { } claimed && _requests.TryGetValue(claimed, out var pending) && IsAcquire(pending) && pending.State == RequestState.Pending)
            Hold(pending, now);
        if (_adaptation.IsOff)
            return;
        // What was in flight besides the reporter's own call has probably not reached the upstream's count yet.
        int others = _leases;
        long othersLoad = _leasedLoad;
        if (leaseId is { } id && _requests.TryGetValue(id, out var lease) && lease.IsLease)
        {
            others--;
            othersLoad -= lease.Load;
        }
        if (_adaptation.Learn(report, now, others, othersLoad) is { } throttled)
            Note(now, ActivityKind.Throttled, null, leaseId ?? 0, "upstream", 0, Priority.Normal, detail: throttled);
        TryGrant(now);
    }

    /// <summary>Where adaptation stands now.</summary>
    public AdaptiveState GetAdaptiveState() => _adaptation.StateAt(Now());

    /// <summary>The share of the configured limits in force as of the last operation (1 unless aimd lowered them).</summary>
    public double WorkingFactor => _adaptation.Factor;
}
