using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// A <see cref="DelegatingHandler"/> that sends each request under a lease of one resource: it waits in the queue before the
/// request goes out, and the lease is released, with what the upstream answered (its status and rate-limit headers, read
/// by <see cref="UpstreamHeaders"/>: an adaptive resource learns from them), once the response's body has been read to its
/// end or the response is disposed, so a streamed body keeps its slot while it streams. If the lease is lost (expired,
/// reclaimed) while the request runs, the request is cancelled and <see cref="LeaseLostException"/> is thrown. A refusal
/// of the queue is thrown as its typed exception, before anything is sent.
/// </summary>
public sealed class OrleansQueueHandler : DelegatingHandler
{
    private readonly Func<OrleansQueueClient> _client;
    private readonly string _resource;
    private readonly OrleansQueueHandlerOptions _options;

    /// <summary>A handler over <paramref name="resource"/> through <paramref name="client"/>.</summary>
    public OrleansQueueHandler(OrleansQueueClient client, string resource, OrleansQueueHandlerOptions? options = null)
        : this(() => client, resource, options)
    {
        ArgumentNullException.ThrowIfNull(client);
    }

    internal OrleansQueueHandler(Func<OrleansQueueClient> client, string resource, OrleansQueueHandlerOptions? options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        _client = client;
        _resource = resource;
        _options = options ?? new OrleansQueueHandlerOptions();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var lease = await _client().AcquireAsync(_resource, _options.Load?.Invoke(request) ?? 1, _options.Priority?.Invoke(request) ?? Priority.Normal,
            _options.ClientId?.Invoke(request), _options.MaxWait, cancellationToken);
        HttpResponseMessage response;
        using (var sending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost))
        {
            try
            {
                response = await base.SendAsync(request, sending.Token);
            }
            catch (OperationCanceledException) when (lease.Lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw Lost(lease);
            }
            catch
            {
                await lease.DisposeAsync();
                throw;
            }
        }
        var upstream = UpstreamHeaders.Parse(response);
        response.Content = new LeasedContent(response.Content, () => Release(lease, response, upstream), lease.Lost, () => Lost(lease));
        return response;
    }

    private async Task Release(Lease lease, HttpResponseMessage response, UpstreamBody upstream)
    {
        try
        {
            await lease.ReleaseAsync(upstream, _options.ActualLoad?.Invoke(response));
        }
        catch (Exception)
        {
            // The silo could not be told: the lease, no longer renewed, expires at the end of its time to live.
        }
    }

    private static LeaseLostException Lost(Lease lease) => new("urn:orleansqueue:problem:request-ended", 410,
        $"The lease {lease.Id} of resource \"{lease.Resource}\" was lost (expired or reclaimed) while its request ran; the request was cancelled.",
        field: null, retry: null);
}
