using System.Text;
using OrleansQueue.Client;
using static OrleansQueue.LoadTest.Report;

namespace OrleansQueue.LoadTest;

/// <summary>One round of a transport through Orleans (co-hosted, or an external client): its floors and the coordinator,
/// alternating. <see cref="SiloCpuPerCycle"/> when the silo is a process of its own; the limiter's when in process.</summary>
internal sealed record OrleansRound(Latencies Push, Latencies Handoff, Throughput Bare, Throughput Hot, Throughput Grain,
    double? SiloCpuPerCycle, Latencies? LimiterHandoff, Throughput? Limiter);

internal static class OrleansRounds
{
    public const int Concurrency = 64;

    /// <param name="siloCpu">The silo process's CPU time so far, when it is a process of its own.</param>
    /// <param name="withLimiter">Whether to measure ConcurrencyLimiter too (a floor only where the silo is in process).</param>
    public static async Task<OrleansRound> RunAsync(string of, Settings settings, OrleansQueueClient client, IGrainFactory grains,
        Func<TimeSpan>? siloCpu, bool withLimiter)
    {
        Progress.Step($"{of}: bare grain call that pushes to an observer (floor)", settings.Handoffs);
        var push = await OrleansFloors.Pushes(grains, settings.Handoffs);
        Progress.Step($"{of}: hand-offs", settings.Handoffs);
        var handoff = await Scenarios.CoordinatorHandoffs(client, "handoff", settings.Handoffs);
        Latencies? limiterHandoff = null;
        if (withLimiter)
        {
            Progress.Step($"{of}: ConcurrencyLimiter hand-offs (floor)", settings.Handoffs);
            limiterHandoff = await Scenarios.LimiterHandoffs(settings.Handoffs);
        }
        Progress.Step($"{of}: hot cycles");
        var cpu = siloCpu?.Invoke();
        var hot = await Scenarios.CoordinatorCycles(client, ["hot"], settings.Seconds, Concurrency, Concurrency);
        double? cpuPerCycle = siloCpu is null ? null : (siloCpu() - cpu!.Value).TotalMicroseconds / (hot.PerSecond * settings.Seconds);
        Progress.Step($"{of}: hot cycles straight on the resource's grain (no SDK)");
        var grain = await OrleansFloors.ResourceGrainCycles(grains, "hot", settings.Seconds, Concurrency);
        Progress.Step($"{of}: bare grain calls, two per cycle (floor)");
        var bare = await OrleansFloors.Cycles(grains, settings.Seconds, Concurrency);
        Throughput? limiter = null;
        if (withLimiter)
        {
            Progress.Step($"{of}: ConcurrencyLimiter cycles (floor)");
            limiter = await Scenarios.LimiterCycles(settings.Seconds);
        }
        return new OrleansRound(push, handoff, bare, hot, grain, cpuPerCycle, limiterHandoff, limiter);
    }

    /// <summary>The table of the rounds: each figure beside its floor, as a ratio.</summary>
    public static string Table(List<OrleansRound> rounds)
    {
        double M(Func<OrleansRound, double> f) => Median(rounds.Select(f));
        var md = new StringBuilder();
        md.AppendLine("| figure | coordinator | floor | coordinator ÷ floor |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        md.AppendLine($"| hand-off p50, ms (a release → the next waiter's code runs) | {Ms(M(r => r.Handoff.P50))} | {Ms(M(r => r.Push.P50))} bare call + observer push | {M(r => r.Handoff.P50 / r.Push.P50):0.0} |");
        md.AppendLine($"| hand-off p99, ms | {Ms(M(r => r.Handoff.P99))} | {Ms(M(r => r.Push.P99))} | {M(r => r.Handoff.P99 / r.Push.P99):0.0} |");
        if (rounds.All(r => r.LimiterHandoff is not null))
            md.AppendLine($"| hand-off p50 / p99, ms, vs. ConcurrencyLimiter | | {Ms(M(r => r.LimiterHandoff!.P50))} / {Ms(M(r => r.LimiterHandoff!.P99))} | {M(r => r.Handoff.P50 / r.LimiterHandoff!.P50):0} (p50) |");
        md.AppendLine($"| acquire+release cycles/s, one hot resource, {Concurrency} callers | {M(r => r.Hot.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} pairs of bare grain calls | {M(r => r.Hot.PerSecond / r.Bare.PerSecond):0.00} |");
        if (rounds.All(r => r.Limiter is not null))
            md.AppendLine($"| … vs. ConcurrencyLimiter | | {M(r => r.Limiter!.PerSecond):N0} | {M(r => r.Hot.PerSecond / r.Limiter!.PerSecond):0.0000} |");
        md.AppendLine($"| the same cycles straight on `IResourceRequests`, no SDK (no lease object, renewal or JSON) | {M(r => r.Grain.PerSecond):N0} | {M(r => r.Bare.PerSecond):N0} | {M(r => r.Grain.PerSecond / r.Bare.PerSecond):0.00} |");
        if (rounds.All(r => r.SiloCpuPerCycle is not null))
            md.AppendLine($"| silo CPU per hot cycle, µs | {M(r => r.SiloCpuPerCycle!.Value):0} | | |");
        md.AppendLine($"| overshoot (holders above the limit seen in process) | {rounds.Sum(r => r.Handoff.Overshoot + r.Hot.Overshoot)} | | |");
        return md.ToString();
    }
}
