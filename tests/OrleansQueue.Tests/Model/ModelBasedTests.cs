namespace OrleansQueue.Tests.Model;

public sealed class ModelBasedTests
{
    public const int OperationsPerSeed = 10_000;

    /// <summary>Seeds 1..24, or 1..N with ORLEANSQUEUE_MODEL_SEEDS=N for a longer hunt.</summary>
    public static TheoryData<int> Seeds()
    {
        int count = int.TryParse(Environment.GetEnvironmentVariable("ORLEANSQUEUE_MODEL_SEEDS"), out int n) ? n : 24;
        var seeds = new TheoryData<int>();
        for (int seed = 1; seed <= count; seed++)
            seeds.Add(seed);
        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomOperationsKeepEveryBudgetOrderAndLivenessPromise(int seed)
    {
        var run = new ModelRun(seed);
        run.Run(OperationsPerSeed);
        // A run that granted almost nothing would check almost nothing.
        Assert.True(run.Grants > OperationsPerSeed / 20, $"seed {seed} granted only {run.Grants} times");
    }
}
