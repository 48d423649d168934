using System.Text.Json;
using OrleansQueue.Contracts;
using OrleansQueue.Grains;

namespace OrleansQueue.Silo.Grains;

internal static class StatsMapping
{
    /// <summary>A tenant sees only its own clients' depths; an admin sees every tenant's.</summary>
    public static StatsView ToView(ResourceStats s, Caller caller) => new(
        s.Name, s.Waiting,
        Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Priority)i).ToString().ToLowerInvariant(), i => s.WaitingByPriority[i]),
        s.WaitingByClient.Where(c => caller.IsAdmin || caller.Owns(c.Key))
            .ToDictionary(c => caller.IsAdmin ? c.Key : caller.ClientIdOf(c.Key), c => c.Value),
        s.Leases, s.LeasedLoad, s.RequestsLeftInWindow, s.LoadLeftInWindow, s.LastFencingToken,
        s.Granted, s.Released, s.Expired, s.Reclaimed, s.TimedOut, s.Cancelled,
        s.Rejected.ToDictionary(r => r.Key.ToString(), r => r.Value),
        s.WaitP50.TotalMilliseconds, s.WaitP90.TotalMilliseconds, s.WaitP99.TotalMilliseconds, s.WaitMax.TotalMilliseconds,
        new JobsView(
            s.Jobs.ByState.ToDictionary(j => JsonNamingPolicy.CamelCase.ConvertName(j.Key.ToString()), j => j.Value),
            Enumerable.Range(0, PriorityLevels.Count).ToDictionary(i => ((Priority)i).ToString().ToLowerInvariant(), i => s.Jobs.QueuedByPriority[i]),
            s.Jobs.QueuedByClient.Where(c => caller.IsAdmin || caller.Owns(c.Key))
                .ToDictionary(c => caller.IsAdmin ? c.Key : caller.ClientIdOf(c.Key), c => c.Value),
            s.Jobs.WaitingWorkers, s.Jobs.Enqueued, s.Jobs.Completed, s.Jobs.Failed, s.Jobs.Retried, s.Jobs.Recovered, s.Jobs.DeadLettered,
            s.Jobs.QueueTimeP50.TotalMilliseconds, s.Jobs.QueueTimeP99.TotalMilliseconds, s.Jobs.RunTimeP50.TotalMilliseconds, s.Jobs.RunTimeP99.TotalMilliseconds));
}
