using System.Threading.RateLimiting;

namespace OrleansQueue.Client;

/// <summary>
/// A <see cref="RateLimitLease"/> over a lease of the queue, or a refusal. Disposing an acquired one releases the queue's
/// lease in the background (once; the release carries an idempotency key, so a retry after a lost connection is safe);
/// a refusal carries <see cref="MetadataName.ReasonPhrase"/> and, when the queue could tell, <see cref="MetadataName.RetryAfter"/>.
/// </summary>
internal sealed class QueueRateLimitLease : RateLimitLease
{
    private static readonly string[] RefusalMetadata = [MetadataName.ReasonPhrase.Name, MetadataName.RetryAfter.Name];
    private static readonly string[] LeaseMetadata = [OrleansQueueMetadata.FencingToken.Name, OrleansQueueMetadata.Lost.Name];

    private readonly Lease? _lease;
    private readonly Action<QueueRateLimitLease>? _released;
    private readonly string? _reason;
    private readonly TimeSpan? _retryAfter;
    private int _disposed;

    private QueueRateLimitLease(Lease? lease, Action<QueueRateLimitLease>? released, string? reason, TimeSpan? retryAfter)
    {
        _lease = lease;
        _released = released;
        _reason = reason;
        _retryAfter = retryAfter;
    }

    public static QueueRateLimitLease Acquired(Lease lease, Action<QueueRateLimitLease> released) => new(lease, released, null, null);

    /// <summary>Acquired without holding anything (a probe of zero permits that found room).</summary>
    public static QueueRateLimitLease Empty { get; } = new(null, null, null, null);

    public static QueueRateLimitLease Refused(string reason, TimeSpan? retryAfter) => new(null, null, reason, retryAfter);

    public override bool IsAcquired => _reason is null;

    /// <summary>The release running in the background once disposed, for a limiter that waits for its releases.</summary>
    public Task Releasing { get; private set; } = Task.CompletedTask;

    public override IEnumerable<string> MetadataNames => IsAcquired ? (_lease is null ? [] : LeaseMetadata) : RefusalMetadata.Where(n => TryGetMetadata(n, out _));

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = metadataName switch
        {
            _ when metadataName == MetadataName.ReasonPhrase.Name => _reason,
            _ when metadataName == MetadataName.RetryAfter.Name => _retryAfter,
            _ when metadataName == OrleansQueueMetadata.FencingToken.Name => _lease?.FencingToken,
            _ when metadataName == OrleansQueueMetadata.Lost.Name => _lease?.Lost,
            _ => null,
        };
        return metadata is not null;
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing || _lease is null || Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        // RateLimitLease.Dispose is synchronous: the release goes out without holding the caller.
        Releasing = ReleaseAsync(_lease);
    }

    private async Task ReleaseAsync(Lease lease)
    {
        try
        {
            await lease.DisposeAsync();
        }
        catch (Exception)
        {
            // The silo could not be told: the lease, no longer renewed, expires at the end of its time to live.
        }
        finally
        {
            _released?.Invoke(this);
        }
    }
}
