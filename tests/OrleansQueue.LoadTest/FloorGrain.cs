using System.Diagnostics;
using Orleans.Concurrency;
using OrleansQueue.Contracts;

namespace OrleansQueue.LoadTest;

/// <summary>
/// The Orleans transport's floors: a grain with no scheduler and no store. <see cref="Call"/> is a bare grain call; <see
/// cref="Pass"/> is a call that pushes to an observer, as a release pushes the grant to the next waiter. Reentrant and
/// placed as <c>ResourceGrain</c> is, so the difference between the two is what OrleansQueue adds.
/// </summary>
[Alias("OrleansQueue.LoadTest.IFloorGrain")]
public interface IFloorGrain : IGrainWithStringKey
{
    [Alias("Call")]
    Task<long> Call(long value);

    [Alias("Pass")]
    Task Pass(IFloorObserver next, long stamp);
}

[Alias("OrleansQueue.LoadTest.IFloorObserver")]
public interface IFloorObserver : IGrainObserver
{
    [OneWay, Alias("Passed")]
    Task Passed(long stamp);
}

[Reentrant]
[Orleans.Placement.PreferLocalPlacement]
public sealed class FloorGrain : Grain, IFloorGrain
{
    public Task<long> Call(long value) => Task.FromResult(value);

    public Task Pass(IFloorObserver next, long stamp)
    {
        _ = next.Passed(stamp);
        return Task.CompletedTask;
    }
}

/// <summary>The floors, measured from the caller's side as the coordinator's figures are.</summary>
internal static class OrleansFloors
{
    private const int Warmup = 100;

    /// <summary>Closed loop: <paramref name="concurrency"/> callers make two bare calls per cycle (as acquire + release are two).</summary>
    public static async Task<Throughput> Cycles(IGrainFactory grains, int seconds, int concurrency)
    {
        var grain = grains.GetGrain<IFloorGrain>("floor");
        await grain.Call(0);
        return await ClosedLoop(seconds, concurrency, async i =>
        {
            await grain.Call(i);
            await grain.Call(-i);
        });
    }

    /// <summary><paramref name="concurrency"/> callers run <paramref name="cycle"/> one after the other for
    /// <paramref name="seconds"/>: the cycles per second in all.</summary>
    private static async Task<Throughput> ClosedLoop(int seconds, int concurrency, Func<int, Task> cycle)
    {
        long cycles = 0;
        var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async i =>
        {
            await Task.Yield();
            while (Stopwatch.GetTimestamp() < until)
            {
                await cycle(i);
                Interlocked.Increment(ref cycles);
                Progress.Advance();
            }
        }));
        return new Throughput(cycles / Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>A call to the grain that pushes to the other side's observer: from the call to the observer's code running.</summary>
    public static async Task<Latencies> Pushes(IGrainFactory grains, int n)
    {
        var grain = grains.GetGrain<IFloorGrain>("floor");
        var receiver = new Receiver();
        var reference = grains.CreateObjectReference<IFloorObserver>(receiver);
        try
        {
            var samples = new List<double>(n);
            for (int i = 0; i < n + Warmup; i++)
            {
                // The coordinator's hand-off holds the slot a moment first (the threads go idle): so does its floor.
                await Task.Delay(1);
                var passed = receiver.Expect();
                await grain.Pass(reference, Stopwatch.GetTimestamp());
                double ms = await passed.WaitAsync(TimeSpan.FromSeconds(30));
                if (i >= Warmup)
                    samples.Add(ms);
                Progress.Advance();
            }
            return Latencies.Of(samples);
        }
        finally
        {
            grains.DeleteObjectReference<IFloorObserver>(reference);
        }
    }

    /// <summary>Not a floor: the hot cycle made straight on <see cref="IResourceRequests"/> with no SDK in between (no lease
    /// object, no renewal, no JSON), to tell the grain's share of the cost from the client's.</summary>
    public static async Task<Throughput> ResourceGrainCycles(IGrainFactory grains, string resource, int seconds, int concurrency)
    {
        var grain = grains.GetGrain<IResourceRequests>(resource);
        var caller = new Caller("default", IsAdmin: true);
        return await ClosedLoop(seconds, concurrency, async _ =>
        {
            var acquired = await grain.Acquire(caller, new AcquireBody("grain", 1, null, 0, Guid.NewGuid().ToString("N")), null);
            var held = acquired.Value ?? throw new InvalidOperationException(acquired.Problem!.Detail);
            var released = await grain.Release(caller, held.Id, new ReleaseBody(null, Guid.NewGuid().ToString("N")));
            if (released.Problem is { } problem)
                throw new InvalidOperationException(problem.Detail);
        });
    }

    private sealed class Receiver : IFloorObserver
    {
        private TaskCompletionSource<double> _next = new();

        public Task<double> Expect()
        {
            _next = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
            return _next.Task;
        }

        public Task Passed(long stamp)
        {
            _next.TrySetResult(Stopwatch.GetElapsedTime(stamp).TotalMilliseconds);
            return Task.CompletedTask;
        }
    }
}
