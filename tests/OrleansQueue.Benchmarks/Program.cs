using BenchmarkDotNet.Running;
using OrleansQueue.Benchmarks;

if (args.Contains("--memory"))
{
    MemoryPerWaiter.Run();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(IdleResourceBenchmarks).Assembly).Run(args);
