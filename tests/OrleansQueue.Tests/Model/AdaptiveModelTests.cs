using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Model;

/// <summary>
/// Random runs of the scheduler with upstream reports, client weights and minimum shares, from seeds, checking after every
/// step what is promised of them: the working limits never exceed the configured ones; nothing is granted while a pause
/// runs; grants never exceed the limits in force; weighted clients' shares stay within one request of their weights; a
/// backlogged level with a minimum share never falls below it, less one request of each level, over any stretch of grants.
/// </summary>
public sealed class AdaptiveModelTests
{
    [Theory]
    [MemberData(nameof(ModelBasedTests.Seeds), MemberType = typeof(ModelBasedTests))]
    public void ReportsNeverLiftTheLimitsAndPausesHold(int seed)
    {
        var rng = new Random(seed);
        var clock = new ManualClock();
        var start = clock.GetUtcNow();
        var policy = new ResourcePolicy
        {
            MaxConcurrent = rng.Next(2, 12),
            RequestsPerWindow = rng.Next(3) == 0 ? null : rng.Next(5, 60),
            LoadPerWindow = rng.Next(3) == 0 ? null : rng.Next(500, 5000),
            Window = TimeSpan.FromMilliseconds(rng.Next(1_000, 10_000)),
            Adaptive = seed % 2 == 0 ? AdaptiveMode.Headers : AdaptiveMode.Aimd,
            AimdDecrease = 0.3 + rng.NextDouble() * 0.6,
            AimdIncrease = 0.05 + rng.NextDouble() * 0.5,
            DefaultMaxWait = TimeSpan.FromSeconds(30),
            LeaseTtl = TimeSpan.FromSeconds(20),
            MaxQueueLength = 200,
            MaxQueuedPerClient = 100,
        };
        var grain = new ResourceScheduler("adaptive-model", policy, clock);
        var held = new List<long>();
        int grants = 0;
        for (int step = 0; step < 3_000; step++)
        {
            long now = clock.GetUtcNow().UtcTicks;
            bool paused = grain.GetAdaptiveState().PausedUntil is { } until && until.UtcTicks > now;
            long grantedBefore = grain.GetStats().Granted;
            int dice = rng.Next(100);
            string op;
            if (dice < 40)
            {
                op = "acquire";
                var result = grain.Acquire("c" + rng.Next(4), rng.Next(1, 200));
                if (result.Outcome == AcquireOutcome.Granted)
                    held.Add(result.RequestId);
            }
            else if (dice < 60 && held.Count > 0)
            {
                op = "release";
                int i = rng.Next(held.Count);
                grain.Release(held[i]);
                held.RemoveAt(i);
            }
            else if (dice < 75)
            {
                op = "report";
                long? lease = held.Count > 0 && rng.Next(2) == 0 ? held[rng.Next(held.Count)] : null;
                grain.ReportUpstream(RandomReport(rng), lease);
            }
            else
            {
                op = "advance";
                clock.Advance(TimeSpan.FromMilliseconds(rng.Next(1, 3_000)));
                grain.Tick();
            }
            held.AddRange(grain.Events.Where(e => e.Kind == ResourceEventKind.Granted).Select(e => e.RequestId));
            grain.ClearEvents();
            long newGrants = grain.GetStats().Granted - grantedBefore;
            grants += (int)newGrants;

            var state = grain.GetAdaptiveState();
            string where = $"seed {seed} step {step} ({op})";
            Assert.True(state.WorkingFactor is > 0 and <= 1, $"{where}: working factor {state.WorkingFactor}");
            Assert.True(state.WorkingMaxConcurrent <= policy.MaxConcurrent && state.WorkingMaxConcurrent >= 1, $"{where}: working concurrency {state.WorkingMaxConcurrent}");
            Assert.True(policy.RequestsPerWindow is null || state.WorkingRequestsPerWindow <= policy.RequestsPerWindow, $"{where}: working requests");
            Assert.True(policy.LoadPerWindow is null || state.WorkingLoadPerWindow <= policy.LoadPerWindow, $"{where}: working load");
            Assert.True(state.UpstreamRequestsLeft is null or >= 0 && state.UpstreamLoadLeft is null or >= 0, $"{where}: the upstream's figure went negative");
            // Time did not move and no report came: a pause that ran before the step runs through it.
            if (paused && op is "acquire" or "release")
                Assert.True(newGrants == 0, $"{where}: {newGrants} granted during a pause");
            // A grant happens only under the limits in force; within a step they only climb (a report may lower them after).
            if (newGrants > 0 && op != "report")
                Assert.True(grain.LeaseCount <= state.WorkingMaxConcurrent, $"{where}: {grain.LeaseCount} leases over the working limit {state.WorkingMaxConcurrent}");
            held.RemoveAll(id => grain.GetStatus(id).Kind is not (RequestStatusKind.Held or RequestStatusKind.Granted));
        }
        // The run went on granting (a stuck scheduler grants nothing): at least once per ten windows. A fixed count does not
        // hold: a budget of 5 requests per 7 s window, shrunk by throttles and paused by them, grants about 120 times in 3,000 steps.
        double windows = (clock.GetUtcNow() - start) / policy.Window;
        Assert.True(grants >= Math.Max(10, windows / 10), $"seed {seed} granted only {grants} times in {windows:F0} windows");
    }

    private static UpstreamReport RandomReport(Random rng)
    {
        int? status = rng.Next(4) switch { 0 => 429, 1 => 503, _ => 200 };
        TimeSpan? retry = rng.Next(3) == 0 ? TimeSpan.FromMilliseconds(rng.Next(-100, 5_000)) : null;
        UpstreamBudget? Budget() => rng.Next(3) == 0 ? null : new UpstreamBudget(
            rng.Next(4) == 0 ? -1 : rng.Next(0, 100), rng.Next(4) == 0 ? -1 : rng.Next(0, 100), TimeSpan.FromMilliseconds(rng.Next(-10, 8_000)));
        return new UpstreamReport(status, retry, Budget(), Budget());
    }

    [Theory]
    [MemberData(nameof(ModelBasedTests.Seeds), MemberType = typeof(ModelBasedTests))]
    public void WeightedClientsShareLoadWithinOneRequestOfTheirWeights(int seed)
    {
        var rng = new Random(seed);
        var clock = new ManualClock();
        string[] clients = ["a", "b", "c", "d"];
        var weights = clients.ToDictionary(c => c, _ => rng.Next(1, 6));
        var loads = clients.ToDictionary(c => c, _ => (long)rng.Next(1, 50));
        var grain = new ResourceScheduler("weights", new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromHours(1), MaxWait = TimeSpan.FromHours(1), MaxQueueLength = 10_000,
            ClientWeights = weights,
        }, clock);
        long held = grain.Acquire("starter").RequestId;
        foreach (string client in clients)
        {
            for (int i = 0; i < 400; i++) // more than the grants below: every client stays backlogged
                grain.Acquire(client, loads[client]);
        }
        var served = clients.ToDictionary(c => c, _ => 0L);
        for (int n = 0; n < 400; n++)
        {
            grain.Release(held);
            var grant = grain.Events.Single(e => e.Kind == ResourceEventKind.Granted);
            grain.ClearEvents();
            held = grant.RequestId;
            served[grant.ClientId] += grant.Load;
            // The normalised service of any two backlogged clients differs by at most one request of each.
            foreach (string x in clients)
            {
                foreach (string y in clients)
                {
                    double gap = served[x] / (double)weights[x] - served[y] / (double)weights[y];
                    double bound = loads[x] / (double)weights[x] + loads[y] / (double)weights[y];
                    Assert.True(gap <= bound + 1e-9, $"seed {seed} grant {n}: {x} (w{weights[x]}) {served[x]} vs {y} (w{weights[y]}) {served[y]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ModelBasedTests.Seeds), MemberType = typeof(ModelBasedTests))]
    public void ABackloggedLevelNeverFallsBelowItsMinimumShare(int seed)
    {
        var rng = new Random(seed);
        var clock = new ManualClock();
        var shares = new Dictionary<Priority, double>();
        double left = 1;
        foreach (var level in new[] { Priority.Background, Priority.Low, Priority.Normal }.Where(_ => rng.Next(3) > 0))
        {
            double share = Math.Round(rng.NextDouble() * Math.Min(left, 0.4), 2);
            shares[level] = share;
            left -= share;
        }
        var grain = new ResourceScheduler("shares", new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromHours(1), MaxWait = TimeSpan.FromHours(1), MaxQueueLength = 100_000,
            MaxQueuedPerClient = 100_000, MinShares = shares,
        }, clock);
        long held = grain.Acquire("starter", priority: Priority.Critical).RequestId;
        var loadOf = Enumerable.Range(0, PriorityLevels.Count).Select(_ => (long)rng.Next(1, 40)).ToArray();
        // Every level stays backlogged throughout.
        for (int level = 0; level < PriorityLevels.Count; level++)
        {
            for (int i = 0; i < 600; i++)
                grain.Acquire("c" + level, loadOf[level], (Priority)level);
        }
        var grantsLog = new List<(int Level, long Load)>();
        for (int n = 0; n < 500; n++)
        {
            grain.Release(held);
            var grant = grain.Events.Single(e => e.Kind == ResourceEventKind.Granted);
            grain.ClearEvents();
            held = grant.RequestId;
            grantsLog.Add(((int)grant.Priority, grant.Load));
        }
        foreach (var (level, share) in shares)
        {
            // Over every stretch of grants, the level's load is at least its share of all load, less one request of each
            // level (a stretch may start just after the level was served, and the more urgent levels that were owed too
            // each go once before it).
            for (int from = 0; from < grantsLog.Count; from += 7)
            {
                long total = 0, mine = 0;
                for (int to = from; to < grantsLog.Count; to++)
                {
                    total += grantsLog[to].Load;
                    if (grantsLog[to].Level == (int)level)
                        mine += grantsLog[to].Load;
                    Assert.True(mine >= share * total - loadOf.Sum() - 1e-9,
                        $"seed {seed}: {level} got {mine} of {total} in grants {from}..{to}, below its share {share}");
                }
            }
        }
    }
}
