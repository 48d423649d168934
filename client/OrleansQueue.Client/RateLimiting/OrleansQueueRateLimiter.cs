using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.RateLimiting;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// A <see cref="RateLimiter"/> whose permits are the load of one resource of the queue, so that every process that uses
/// it shares the resource's cluster-wide budget, waitlist and fairness: ASP.NET Core's rate limiting middleware, Polly's
/// <c>AddRateLimiter</c> and <c>Microsoft.Extensions.Http.Resilience</c> take it as they take <see cref="ConcurrencyLimiter"/>.
/// <list type="bullet">
/// <item><c>AcquireAsync(n)</c> waits in the resource's queue for load <c>n</c> (at the options' priority, as their client,
/// up to their <see cref="OrleansQueueRateLimiterOptions.MaxWait"/>); cancelling it withdraws the request. A refusal of the
/// queue (full, a quota, the wait ended) is a failed lease with its reason and, when the queue could tell, its retry-after.</item>
/// <item><c>AttemptAcquire(n)</c> asks for load <c>n</c> without waiting in the queue: granted only if it fits now and
/// nothing more urgent waits. It is synchronous over a call to the silo, so it holds its thread for one round trip.</item>
/// <item>Disposing an acquired lease releases it in the background, once.</item>
/// <item>Zero permits ask whether the resource has room now (nothing waits and its figures leave room), taking nothing.</item>
/// <item>Permits above what the resource can ever grant throw <see cref="ArgumentOutOfRangeException"/>, as
/// <see cref="ConcurrencyLimiter"/> does for more than its limit.</item>
/// <item>Disposing the limiter fails the acquires still waiting (their requests are withdrawn) and refuses new ones with
/// <see cref="ObjectDisposedException"/>; leases already held stay valid until disposed.</item>
/// </list>
/// </summary>
public sealed class OrleansQueueRateLimiter : RateLimiter
{
    private readonly OrleansQueueClient _client;
    private readonly OrleansQueueRateLimiterOptions _options;
    private readonly CancellationTokenSource _disposing = new();
    private readonly ConcurrentDictionary<QueueRateLimitLease, byte> _held = new();
    private readonly object _statsLock = new();
    private long _successful, _failed;
    private int _busy;
    private long _idleSince = Stopwatch.GetTimestamp();
    private Figures? _figures;
    private long _figuresAt;
    private Task? _refreshing;

    /// <summary>A limiter over resource <paramref name="resource"/> through <paramref name="client"/>.</summary>
    public OrleansQueueRateLimiter(OrleansQueueClient client, string resource, OrleansQueueRateLimiterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        _client = client;
        Resource = resource;
        _options = options ?? new OrleansQueueRateLimiterOptions();
        if (_options.MaxWait is { } wait && wait < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), wait, "MaxWait must be zero or more.");
    }

    /// <summary>
    /// A <see cref="PartitionedRateLimiter{TResource}"/> whose <paramref name="partition"/> names, per call, the resource, the
    /// client and the priority (per tenant, per route, per model): for ASP.NET Core's <c>RateLimiterOptions.GlobalLimiter</c>
    /// or a policy. Each partition is an <see cref="OrleansQueueRateLimiter"/>, dropped when it has been idle a while.
    /// </summary>
    /// <param name="maxWait">How long an acquire may wait in the queue; null for each resource's default.</param>
    public static PartitionedRateLimiter<TResource> CreatePartitioned<TResource>(OrleansQueueClient client,
        Func<TResource, OrleansQueuePartition> partition, TimeSpan? maxWait = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(partition);
        return PartitionedRateLimiter.Create<TResource, OrleansQueuePartition>(resource => RateLimitPartition.Get(partition(resource),
            key => new OrleansQueueRateLimiter(client, key.Resource, new() { ClientId = key.ClientId, Priority = key.Priority, MaxWait = maxWait })));
    }

    /// <summary>The resource whose load the permits are.</summary>
    public string Resource { get; }

    /// <summary>Null while this limiter holds a lease or an acquire waits; otherwise how long since it last did.</summary>
    public override TimeSpan? IdleDuration =>
        Volatile.Read(ref _busy) > 0 || !_held.IsEmpty ? null : Stopwatch.GetElapsedTime(Volatile.Read(ref _idleSince));

    /// <summary>
    /// This limiter's own successful and failed leases, with the resource's queue and the load it could grant now
    /// (across every client of the cluster) from its figures as last fetched: at most
    /// <see cref="OrleansQueueRateLimiterOptions.StatisticsMaxAge"/> old when asked for often, fetched in the background.
    /// </summary>
    public override RateLimiterStatistics? GetStatistics()
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        var figures = CurrentFigures();
        return new RateLimiterStatistics
        {
            CurrentAvailablePermits = figures is null ? 0 : AvailableLoad(figures),
            CurrentQueuedCount = figures?.Stats.Waiting ?? 0,
            TotalSuccessfulLeases = Interlocked.Read(ref _successful),
            TotalFailedLeases = Interlocked.Read(ref _failed),
        };
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        // Off the caller's synchronization context: the wait below must not need it.
        return Task.Run(() => AcquireCoreAsync(permitCount, TimeSpan.Zero, CancellationToken.None).AsTask()).GetAwaiter().GetResult();
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        return AcquireCoreAsync(permitCount, _options.MaxWait, cancellationToken);
    }

    private async ValueTask<RateLimitLease> AcquireCoreAsync(int permitCount, TimeSpan? maxWait, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _busy);
        try
        {
            if (permitCount == 0)
                return await ProbeAsync(cancellationToken);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
            try
            {
                var lease = await _client.AcquireAsync(Resource, permitCount, _options.Priority, _options.ClientId, maxWait, stop.Token);
                Interlocked.Increment(ref _successful);
                var acquired = QueueRateLimitLease.Acquired(lease, Released);
                _held[acquired] = 0;
                return acquired;
            }
            catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return Refuse($"The rate limiter of \"{Resource}\" was disposed while the request waited.", null);
            }
            catch (InvalidLoadException invalid)
            {
                throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, invalid.Message);
            }
            catch (OrleansQueueException refused) when (refused is QueueFullException or ClientQuotaExceededException or AcquireTimeoutException)
            {
                return Refuse(refused.Message, refused.RetryAfter);
            }
        }
        finally
        {
            EndActivity();
        }
    }

    /// <summary>Zero permits: whether the resource has room now, from its current figures, taking nothing.</summary>
    private async Task<RateLimitLease> ProbeAsync(CancellationToken cancellationToken)
    {
        var figures = await RefreshAsync(cancellationToken);
        long room = AvailableLoad(figures);
        if (figures.Stats.Waiting == 0 && room > 0)
        {
            Interlocked.Increment(ref _successful);
            return QueueRateLimitLease.Empty;
        }
        return Refuse($"Resource \"{Resource}\" has {figures.Stats.Waiting} requests waiting and room for load {room} now.", null);
    }

    private QueueRateLimitLease Refuse(string reason, TimeSpan? retryAfter)
    {
        Interlocked.Increment(ref _failed);
        return QueueRateLimitLease.Refused(reason, retryAfter);
    }

    private void Released(QueueRateLimitLease lease)
    {
        _held.TryRemove(lease, out _);
        Volatile.Write(ref _idleSince, Stopwatch.GetTimestamp());
    }

    private void EndActivity()
    {
        Volatile.Write(ref _idleSince, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref _busy);
    }

    /// <summary>The load the resource could grant now as its figures tell: none while it is paused, its concurrency is
    /// taken or its requests per window are spent; else what is left of its load per window, or (when load is not limited)
    /// as much as a permit count can be.</summary>
    private static long AvailableLoad(Figures figures)
    {
        var (stats, maxConcurrent) = figures;
        if (stats.Adaptive?.PausedUntil is { } paused && paused > DateTimeOffset.UtcNow)
            return 0;
        if ((stats.Adaptive?.WorkingMaxConcurrent ?? maxConcurrent) is { } concurrency && stats.Leases >= concurrency)
            return 0;
        if (stats.RequestsLeftInWindow == 0)
            return 0;
        return stats.LoadLeftInWindow ?? int.MaxValue;
    }

    private Figures? CurrentFigures()
    {
        lock (_statsLock)
        {
            bool stale = _figures is null || Stopwatch.GetElapsedTime(_figuresAt) > _options.StatisticsMaxAge;
            if (stale && _refreshing is null or { IsCompleted: true })
                _refreshing = RefreshAsync(CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            return _figures;
        }
    }

    private async Task<Figures> RefreshAsync(CancellationToken cancellationToken)
    {
        var stats = _client.GetStatsAsync(Resource, cancellationToken);
        var definition = _client.GetResourceAsync(Resource, cancellationToken);
        var figures = new Figures(await stats, (await definition).Policy.MaxConcurrent);
        lock (_statsLock)
        {
            _figures = figures;
            _figuresAt = Stopwatch.GetTimestamp();
        }
        return figures;
    }

    /// <summary>The resource's figures and its configured concurrency, as last fetched.</summary>
    private sealed record Figures(StatsView Stats, int? MaxConcurrent);

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposing.IsCancellationRequested)
            _disposing.Cancel();
        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        return ValueTask.CompletedTask;
    }
}
