namespace OrleansQueue.Tests;

/// <summary>
/// Waits for what a test cannot be told of by an event (a figure of the silo, a counter): asks again every 20 ms, up to a
/// generous 30 s, then fails the wait. Waiting on the condition itself, never a sleep that hopes it came true.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    public static async Task True(Func<Task<bool>> condition)
    {
        using var deadline = new CancellationTokenSource(Generous);
        while (!await condition())
            await Task.Delay(20, deadline.Token);
    }

    public static Task True(Func<bool> condition) => True(() => Task.FromResult(condition()));

    /// <summary>The first value <paramref name="read"/> gives that is <paramref name="done"/>.</summary>
    public static async Task<T> Value<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        using var deadline = new CancellationTokenSource(Generous);
        while (true)
        {
            var value = await read();
            if (done(value))
                return value;
            await Task.Delay(20, deadline.Token);
        }
    }
}
