using OrleansQueue.Scheduling;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>Weighted fairness within a level, and minimum shares of granted load per level.</summary>
public sealed class SharesTests : SchedulerTestBase
{
    [Fact]
    public void BackloggedClientsReceiveLoadInProportionToTheirWeights()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            ClientWeights = new Dictionary<string, int> { ["heavy"] = 3 },
        });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 60; i++)
        {
            Queued(grain.Acquire("heavy"));
            Queued(grain.Acquire("light"));
        }
        var served = Serve(grain, held, 40);
        int heavy = served.Count(c => c == "heavy");
        Assert.InRange(heavy, 29, 31); // 3 : 1, within one request
        // At every point, within one request of the weights.
        for (int n = 1; n <= served.Count; n++)
            Assert.InRange(served.Take(n).Count(c => c == "heavy") - 0.75 * n, -1.0, 1.0);
    }

    [Fact]
    public void WeightsShareLoadNotRequests()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            ClientWeights = new Dictionary<string, int> { ["a"] = 2 },
        });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 40; i++)
        {
            Queued(grain.Acquire("a", load: 4)); // twice the weight, four times the load: half the requests of b
            Queued(grain.Acquire("b", load: 1));
        }
        var served = Serve(grain, held, 30);
        Assert.InRange(served.Count(c => c == "a"), 9, 11);
    }

    [Fact]
    public void AWeightNamedWithoutTheTenantAppliesToThatClientOfEveryTenant()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            ClientWeights = new Dictionary<string, int> { ["batch"] = 4, ["t2:batch"] = 1 },
        });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 30; i++)
        {
            Queued(grain.Acquire("t1:batch"));
            Queued(grain.Acquire("t1:other"));
            Queued(grain.Acquire("t2:batch"));
        }
        var served = Serve(grain, held, 30);
        Assert.InRange(served.Count(c => c == "t1:batch"), 19, 21); // 4 : 1 : 1
        Assert.InRange(served.Count(c => c == "t2:batch"), 4, 6);
    }

    [Fact]
    public void ABackloggedLevelWithAMinimumShareIsNeverStarvedBelowIt()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            MinShares = new Dictionary<Priority, double> { [Priority.Background] = 0.2 },
        });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 200; i++)
            Queued(grain.Acquire("urgent", priority: Priority.Critical));
        for (int i = 0; i < 50; i++)
            Queued(grain.Acquire("slow", priority: Priority.Background));

        var served = Serve(grain, held, 100);
        // Over every stretch of the run, Background has its 20 %, less one request.
        for (int from = 0; from < served.Count; from++)
        {
            for (int to = from + 1; to <= served.Count; to++)
            {
                int background = served.Skip(from).Take(to - from).Count(c => c == "slow");
                Assert.True(background >= 0.2 * (to - from) - 1, $"grants {from}..{to}: {background} of {to - from} to Background");
            }
        }
        Assert.InRange(served.Count(c => c == "slow"), 19, 21); // and not much more: strict priority otherwise
    }

    [Fact]
    public void WithoutAMinimumShareStrictPriorityStarvesTheLowerLevel()
    {
        var grain = NewScheduler(new ResourcePolicy { MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5) });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 50; i++)
            Queued(grain.Acquire("urgent", priority: Priority.Critical));
        Queued(grain.Acquire("slow", priority: Priority.Background));
        Assert.DoesNotContain("slow", Serve(grain, held, 50));
    }

    [Fact]
    public void ALevelServedAloneBanksNoCreditForLater()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            MinShares = new Dictionary<Priority, double> { [Priority.Low] = 0.25 },
        });
        long held = Granted(grain.Acquire("starter"));
        for (int i = 0; i < 40; i++)
            Queued(grain.Acquire("low", priority: Priority.Low));
        var alone = Serve(grain, held, 10, out held); // nothing more urgent: Low has everything
        Assert.All(alone, c => Assert.Equal("low", c));

        for (int i = 0; i < 40; i++)
            Queued(grain.Acquire("high", priority: Priority.High));
        var mixed = Serve(grain, held, 20);
        Assert.InRange(mixed.Count(c => c == "low"), 4, 6); // its share from now on, no more
    }

    [Fact]
    public void AnImmediateGrantDoesNotPassALevelOwedItsShare()
    {
        var grain = NewScheduler(new ResourcePolicy
        {
            MaxConcurrent = 1, DefaultMaxWait = TimeSpan.FromMinutes(5),
            MinShares = new Dictionary<Priority, double> { [Priority.Background] = 0.5 },
        });
        long held = Granted(grain.Acquire("a", priority: Priority.Critical));
        long slow = Queued(grain.Acquire("slow", priority: Priority.Background));
        long urgent = Queued(grain.Acquire("b", priority: Priority.Critical));
        grain.Release(held); // Critical b first (Background is owed nothing yet), crediting Background
        Assert.Equal([urgent], GrantsIn(Drain(grain)));
        grain.Release(urgent);
        Assert.Equal([slow], GrantsIn(Drain(grain)));
    }

    [Fact]
    public void SharesAddingUpToMoreThanOneAndWeightsOutOfRangeAreRefused()
    {
        var errors = new ResourcePolicy { MinShares = new Dictionary<Priority, double> { [Priority.Low] = 0.6, [Priority.Background] = 0.5 } }.Validate();
        Assert.Contains(errors, e => e.Field == nameof(ResourcePolicy.MinShares) && e.Rule.Contains("at most 1"));
        errors = new ResourcePolicy { ClientWeights = new Dictionary<string, int> { ["a"] = 0 } }.Validate();
        Assert.Contains(errors, e => e.Field == nameof(ResourcePolicy.ClientWeights));
    }

    private static List<string> Serve(ResourceScheduler grain, long held, int grants) => Serve(grain, held, grants, out _);

    /// <summary>Releases the lease held, then each grant in turn, <paramref name="grants"/> times: who was served, in order.</summary>
    private static List<string> Serve(ResourceScheduler grain, long held, int grants, out long last)
    {
        var served = new List<string>();
        Drain(grain);
        for (int i = 0; i < grants; i++)
        {
            grain.Release(held);
            var granted = Drain(grain).Single(e => e.Kind == ResourceEventKind.Granted);
            served.Add(granted.ClientId);
            held = granted.RequestId;
        }
        last = held;
        return served;
    }
}
