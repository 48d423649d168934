using Microsoft.Extensions.Options;
using OrleansQueue.Contracts;
using OrleansQueue.Scheduling;
using OrleansQueue.Grains;

namespace OrleansQueue.Gateway;

/// <summary>
/// The operations on tickets and leases, shared by the HTTP endpoints and the WebSocket session: the input rules, then
/// the resource's grain (which keeps tenants apart: a tenant only ever sees its own requests, others' look unknown).
/// </summary>
internal sealed class RequestOperations(ResourceGrains grains, SiloDeaths deaths, IOptions<GatewayOptions> options)
{
    private readonly TimeSpan _maxLongPoll = TimeSpan.FromSeconds(options.Value.MaxLongPollSeconds);

    public TimeSpan MaxLongPoll => _maxLongPoll;

    /// <summary>Makes <paramref name="observer"/> reachable by the grains, for as long as the registration lives.</summary>
    public ObserverRegistration Observe(IResourceObserver observer) => new(grains.Factory, deaths, observer);

    /// <summary>Asks for a slot. With <paramref name="observer"/>, a queued request's updates are pushed to it (if the resource pushes).</summary>
    public Task<Outcome<RequestView>> AcquireAsync(Caller caller, string resource, AcquireBody body, IResourceObserver? observer, CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return Done(Problem.Invalid("resource", $"resource must be {Names.ResourceRule}; it is \"{resource}\"."));
        return Call(caller, resource, g => g.Acquire(caller, body, observer), ct);
    }

    /// <summary>Where a request stands. Learning of a grant this way claims it: the caller now holds the lease.</summary>
    public Task<Outcome<RequestView>> StatusAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(caller, resource, g => g.Status(caller, id, null), ct);

    /// <summary>Waits until the request leaves the waitlist (or <paramref name="timeout"/> passes), then answers as <see cref="StatusAsync"/>.</summary>
    public async Task<Outcome<RequestView>> WaitAsync(Caller caller, string resource, long id, TimeSpan timeout, CancellationToken ct)
    {
        var waiter = new OneUpdate();
        using var registration = Observe(waiter);
        var first = await Call(caller, resource, g => g.WaitFor(caller, id, registration.Reference), ct);
        if (first.Problem is not null || first.Value!.State != RequestPhase.Waiting)
            return first;
        try
        {
            await waiter.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException)
        {
            await Detach(resource, id, registration.Reference); // nothing is pushed to the waiter that left
            throw;
        }
        return await Call(caller, resource, g => g.Status(caller, id, registration.Reference), CancellationToken.None);
    }

    public Task<Outcome<RequestView>> ReleaseAsync(Caller caller, string resource, long id, ReleaseBody body, CancellationToken ct) =>
        Call(caller, resource, g => g.Release(caller, id, body), ct);

    /// <summary>Reports what the upstream answered a call made under the request.</summary>
    public Task<Outcome<RequestView>> ReportAsync(Caller caller, string resource, long id, UpstreamBody body, CancellationToken ct) =>
        Call(caller, resource, g => g.ReportUpstream(caller, id, body), ct);

    /// <summary>Claims a grant or extends a lease by one TTL.</summary>
    public Task<Outcome<RequestView>> RenewAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(caller, resource, g => g.Renew(caller, id), ct);

    /// <summary>Withdraws a waiting request, or releases a lease whose grant raced the cancel.</summary>
    public Task<Outcome<RequestView>> CancelAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(caller, resource, g => g.Cancel(caller, id), ct);

    /// <summary>Subscribes <paramref name="observer"/> to a request and answers where it stands, in one turn (no update can slip between).</summary>
    public Task<Outcome<RequestView>> AttachAsync(Caller caller, string resource, long id, IResourceObserver observer, CancellationToken ct) =>
        Call(caller, resource, g => g.Attach(caller, id, observer), ct);

    /// <summary>Stops pushing a request's updates to <paramref name="observer"/>; quietly, since the caller is leaving anyway.</summary>
    public Task Detach(string resource, long id, IResourceObserver observer) =>
        Call(null, resource, async g => { await g.Detach(id, observer); return new Outcome<int>(); }, CancellationToken.None);

    /// <summary>A grain call on <paramref name="caller"/>'s behalf (null: the silo's own, such as leaving a subscription),
    /// counted against the tenant's calls in flight.</summary>
    private Task<Outcome<T>> Call<T>(Caller? caller, string resource, Func<IResourceRequests, Task<Outcome<T>>> call, CancellationToken ct) =>
        grains.CallAsync(resource, g => call(g.Requests), ct, caller?.Tenant);

    private static Task<Outcome<RequestView>> Done(Problem problem) => Task.FromResult<Outcome<RequestView>>(problem);

    /// <summary>An observer that completes on the first update (long-poll).</summary>
    private sealed class OneUpdate : IResourceObserver
    {
        private readonly TaskCompletionSource<RequestUpdate> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<RequestUpdate> Task => _done.Task;

        public System.Threading.Tasks.Task OnUpdate(RequestUpdate update)
        {
            _done.TrySetResult(update);
            return System.Threading.Tasks.Task.CompletedTask;
        }
    }
}
