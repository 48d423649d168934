using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// A granted slot of a resource. It renews itself while held; disposing it releases it (once, however often it is
/// disposed). Pass <see cref="FencingToken"/> downstream so a stale holder can be refused; watch <see cref="Lost"/>
/// to stop work when the lease is lost (expired, reclaimed).
/// </summary>
public sealed class Lease : IAsyncDisposable
{
    private readonly OrleansQueueClient _client;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _released = new();
    private readonly string _releaseKey = Guid.NewGuid().ToString("N");
    private readonly Task _renewal;
    private int _releasing;

    internal Lease(OrleansQueueClient client, string resource, RequestView view)
    {
        _client = client;
        Resource = resource;
        Id = view.Id;
        FencingToken = view.FencingToken ?? throw new InvalidOperationException($"Request {view.Id} of \"{resource}\" was granted without a fencing token.");
        Load = view.Load;
        ExpiresAt = view.ExpiresAt ?? throw new InvalidOperationException($"Request {view.Id} of \"{resource}\" was granted without an expiry.");
        GrantedAt = view.GrantedAt ?? DateTimeOffset.UtcNow;
        // Renewals belong to no caller's trace: the acquire's span must not be their parent for the lease's whole life.
        using (ExecutionContext.SuppressFlow())
            _renewal = Task.Run(RenewLoopAsync);
    }

    public string Resource { get; }
    public long Id { get; }
    public long FencingToken { get; }
    public long Load { get; }

    /// <summary>When the lease expires unless renewed (renewal is automatic).</summary>
    public DateTimeOffset ExpiresAt { get; private set; }

    /// <summary>When the silo made the grant, on its clock.</summary>
    public DateTimeOffset GrantedAt { get; }

    /// <summary>Cancelled when the lease is lost: stop the work it protects.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Releases the lease, reporting the load really used if known. Idempotent; safe to retry.</summary>
    public ValueTask ReleaseAsync(long? actualLoad = null, CancellationToken cancellationToken = default) =>
        ReleaseAsync(actualLoad, upstream: null, cancellationToken);

    /// <summary>Releases the lease, reporting what the upstream answered the call it protected (its status and rate-limit
    /// headers, read by <see cref="UpstreamHeaders"/>) and the load really used if known. An adaptive resource learns
    /// from it: <c>await lease.ReleaseAsync(response, usage.TotalTokens)</c>.</summary>
    public ValueTask ReleaseAsync(HttpResponseMessage response, long? actualLoad = null, CancellationToken cancellationToken = default) =>
        ReleaseAsync(actualLoad, UpstreamHeaders.Parse(response), cancellationToken);

    /// <summary>Releases the lease, reporting an upstream's answer already read (see <see cref="ReportAsync(UpstreamBody, CancellationToken)"/>)
    /// and the load really used if known.</summary>
    public ValueTask ReleaseAsync(UpstreamBody upstream, long? actualLoad = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        return ReleaseAsync(actualLoad, upstream, cancellationToken);
    }

    /// <summary>Reports what the upstream answered a call made under the lease, which stays held: <c>await lease.ReportAsync(response)</c>.</summary>
    public Task ReportAsync(HttpResponseMessage response, CancellationToken cancellationToken = default) =>
        ReportAsync(UpstreamHeaders.Parse(response), cancellationToken);

    /// <summary>Reports an upstream's answer already read (from headers and a status, say, with <see cref="UpstreamHeaders.Parse(int, IEnumerable{KeyValuePair{string, IEnumerable{string}}}, DateTimeOffset?)"/>).</summary>
    public async Task ReportAsync(UpstreamBody upstream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        await _client.ReportAsync(Resource, Id, upstream, cancellationToken);
    }

    private async ValueTask ReleaseAsync(long? actualLoad, UpstreamBody? upstream, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _releasing, 1) == 1)
            return;
        using var activity = ClientTelemetry.StartRelease(Resource, Id);
        await _released.CancelAsync();
        if (_lost.IsCancellationRequested)
            return;
        try
        {
            await _client.ReleaseAsync(Resource, Id, actualLoad, _releaseKey, upstream, cancellationToken);
        }
        catch (LeaseLostException)
        {
            // Already gone (expired or reclaimed): there is nothing left to release.
        }
        _client.Forget(this);
    }

    /// <summary>Releases the lease without an actual load.</summary>
    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        await _renewal.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    internal void MarkLost()
    {
        if (!_lost.IsCancellationRequested)
            _lost.Cancel();
        _client.Forget(this);
    }

    private async Task RenewLoopAsync()
    {
        var token = _released.Token;
        while (!token.IsCancellationRequested && !_lost.IsCancellationRequested)
        {
            var wait = (ExpiresAt - DateTimeOffset.UtcNow) * _client.Options.RenewAt;
            try
            {
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, token);
                ExpiresAt = await _client.RenewAsync(Resource, Id, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (LeaseLostException)
            {
                MarkLost();
                return;
            }
            catch (Exception) when (DateTimeOffset.UtcNow < ExpiresAt)
            {
                // Transient (connection lost): try again at the next interval, while the lease still lives.
            }
            catch (Exception)
            {
                MarkLost();
                return;
            }
        }
    }
}
