using System.Text.Json;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Grains;

internal static class StatsMapping
{
    /// <summary>A tenant sees only its own clients' depths; an admin sees every tenant's.</summary>
    public static StatsView ToView(ResourceStats s, Caller caller) => new(
        s.Name, s.Waiting,
        Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Contracts.Priority)i).ToString().ToLowerInvariant(), i => s.WaitingByPriority[i]),
        s.WaitingByClient.Where(c => Sees(caller, c.Key)).ToDictionary(c => NameOf(caller, c.Key), c => c.Value),
        s.Leases, s.LeasedLoad, s.RequestsLeftInWindow, s.LoadLeftInWindow, s.LastFencingToken,
        s.Granted, s.Released, s.Expired, s.Reclaimed, s.TimedOut, s.Cancelled,
        s.Rejected.ToDictionary(r => r.Key.ToString(), r => r.Value),
        s.WaitP50.TotalMilliseconds, s.WaitP90.TotalMilliseconds, s.WaitP99.TotalMilliseconds, s.WaitMax.TotalMilliseconds,
        new JobsView(
            s.Jobs.ByState.ToDictionary(j => JsonNamingPolicy.CamelCase.ConvertName(j.Key.ToString()), j => j.Value),
            Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Contracts.Priority)i).ToString().ToLowerInvariant(), i => s.Jobs.QueuedByPriority[i]),
            s.Jobs.QueuedByClient.Where(c => Sees(caller, c.Key)).ToDictionary(c => NameOf(caller, c.Key), c => c.Value),
            s.Jobs.WaitingWorkers, s.Jobs.Enqueued, s.Jobs.Completed, s.Jobs.Failed, s.Jobs.Retried, s.Jobs.Recovered, s.Jobs.DeadLettered,
            s.Jobs.QueueTimeP50.TotalMilliseconds, s.Jobs.QueueTimeP99.TotalMilliseconds, s.Jobs.RunTimeP50.TotalMilliseconds, s.Jobs.RunTimeP99.TotalMilliseconds),
        GrantsPerSecond: Math.Round(s.GrantsPerSecond, 2),
        Adaptive: WireMapping.ViewOf(s.Adaptive));

    /// <summary>The dashboard's view of a resource: a tenant sees its own clients' leases, events and jobs (named without the
    /// tenant), and the resource's totals.</summary>
    public static ResourceDetailView ToDetail(string resource, ResourceScheduler s, Caller caller, int max) => new(
        ToView(s.GetStats(), caller),
        s.GetLeases(int.MaxValue).Where(l => Sees(caller, l.ClientId)).Take(max)
            .Select(l => new LeaseView(l.Id, NameOf(caller, l.ClientId), l.Load, l.Priority.ToWire(), l.FencingToken, l.GrantedAt, l.ExpiresAt, l.Claimed, l.IsJob))
            .ToList(),
        s.GetRecentActivity().Where(e => Sees(caller, e.ClientId))
            .Select(e => new ActivityView(e.At, e.Kind.ToWire(), e.RequestId, NameOf(caller, e.ClientId), e.Load, e.Priority.ToWire(), e.Reason?.ToWire(), e.Detail))
            .ToList(),
        s.GetTimeline().Select(b => new TimelineView(b.Start, b.Granted, b.Rejected, b.Expired)).ToList(),
        (long)ResourceScheduler.ActivityBucketLength.TotalMilliseconds,
        s.GetJobs(int.MaxValue).Where(j => Sees(caller, j.ClientId)).Take(max)
            .Select(j => WireMapping.ViewOf(resource, j, caller, withPayload: false) with { ClientId = NameOf(caller, j.ClientId) }).ToList());

    private static bool Sees(Caller caller, string clientId) => caller.IsAdmin || caller.Owns(clientId);

    private static string NameOf(Caller caller, string clientId) => caller.IsAdmin ? clientId : caller.ClientIdOf(clientId);
}
