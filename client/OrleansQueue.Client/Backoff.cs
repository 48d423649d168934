namespace OrleansQueue.Client;

/// <summary>Delays between attempts that double from <see cref="OrleansQueueClientOptions.ReconnectMinDelay"/> up to
/// <see cref="OrleansQueueClientOptions.ReconnectMaxDelay"/>.</summary>
internal sealed class Backoff(OrleansQueueClientOptions options)
{
    private TimeSpan _next = options.ReconnectMinDelay;

    /// <summary>Waits the current delay and doubles the next one.</summary>
    public Task WaitAsync(CancellationToken cancellationToken = default)
    {
        var delay = _next;
        _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, options.ReconnectMaxDelay.Ticks));
        return Task.Delay(delay, cancellationToken);
    }

    /// <summary>Back to the shortest delay, after an attempt that succeeded.</summary>
    public void Reset() => _next = options.ReconnectMinDelay;
}
