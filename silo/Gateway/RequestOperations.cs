using Microsoft.Extensions.Options;
using OrleansQueue.Grains;
using OrleansQueue.Silo.Hosting;
using OrleansQueue.Silo.Observability;
using OrleansQueue.Silo.Runtime;

namespace OrleansQueue.Silo.Gateway;

/// <summary>
/// The operations on tickets and leases, shared by the HTTP endpoints and the WebSocket session: input rules,
/// tenant isolation (a tenant only ever sees its own requests: others' look unknown), and the grain calls.
/// </summary>
public sealed class RequestOperations(GrainRuntime runtime, SiloMetrics metrics, IOptions<SiloOptions> options)
{
    private readonly TimeSpan _maxLongPoll = TimeSpan.FromSeconds(options.Value.MaxLongPollSeconds);

    public TimeSpan MaxLongPoll => _maxLongPoll;

    /// <summary>Asks for a slot. With <paramref name="observer"/>, a queued request's updates are pushed to it (if the resource pushes).</summary>
    public Task<Outcome<RequestView>> AcquireAsync(Caller caller, string resource, AcquireBody body, IGrainObserver? observer, CancellationToken ct)
    {
        if (!Names.IsValidResource(resource))
            return Task.FromResult<Outcome<RequestView>>(Problem.Invalid("resource", $"resource must be {Names.ResourceRule}; it is \"{resource}\"."));
        string clientId = body.ClientId ?? "default";
        if (!Names.IsValidClient(clientId))
            return Task.FromResult<Outcome<RequestView>>(Problem.Invalid("clientId", $"clientId must be {Names.ClientRule}."));
        if (body.MaxWaitMs is < 0 or > 86_400_000)
            return Task.FromResult<Outcome<RequestView>>(Problem.Invalid("maxWaitMs", $"maxWaitMs must be between 0 and 86400000; it is {body.MaxWaitMs}."));
        var maxWait = body.MaxWaitMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        string grainClient = caller.GrainClientId(clientId);
        return Call(resource, turn =>
        {
            var result = turn.Grain.Acquire(grainClient, body.Load ?? 1, body.Priority ?? Priority.Normal, maxWait, body.IdempotencyKey);
            if (result.Outcome == AcquireOutcome.Rejected)
            {
                turn.Rejected(result.Rejection.Reason);
                return Problem.From(result.Rejection);
            }
            if (result.Outcome == AcquireOutcome.Granted)
                turn.GrantedNow();
            else if (observer is not null && turn.Definition.PushEnabled)
                turn.Subscribe(result.RequestId, observer);
            var status = turn.Status(result.RequestId);
            var view = RequestView.Of(status, caller);
            if (observer is not null)
                view = view with { Push = turn.Definition.PushEnabled };
            return new Outcome<RequestView>(view, null, status.Phase == RequestPhase.Waiting ? 202 : 200);
        }, ct);
    }

    /// <summary>Where a request stands. Learning of a grant this way claims it: the caller now holds the lease.</summary>
    public Task<Outcome<RequestView>> StatusAsync(Caller caller, string resource, long id, CancellationToken ct)
    {
        metrics.StatusCalled(resource);
        return Call(resource, turn => Owned(turn, caller, id, out var status) is { } missing ? missing : new Outcome<RequestView>(View(turn, caller, Claim(turn, status)), null), ct);
    }

    /// <summary>Waits until the request leaves the waitlist (or <paramref name="timeout"/> passes), then answers as <see cref="StatusAsync"/>.</summary>
    public async Task<Outcome<RequestView>> WaitAsync(Caller caller, string resource, long id, TimeSpan timeout, CancellationToken ct)
    {
        var waiter = new OneUpdate();
        var first = await Call(resource, turn =>
        {
            if (Owned(turn, caller, id, out var status) is { } missing)
                return missing;
            if (status.Phase == RequestPhase.Waiting)
                turn.Subscribe(id, waiter);
            return new Outcome<RequestView>(View(turn, caller, Claim(turn, status)), null);
        }, ct);
        if (first.Problem is not null || first.Value!.State != RequestPhase.Waiting)
            return first;
        try
        {
            await waiter.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
        }
        return await Call(resource, turn =>
        {
            turn.Unsubscribe(id, waiter);
            return Owned(turn, caller, id, out var status) is { } missing ? missing : new Outcome<RequestView>(View(turn, caller, Claim(turn, status)), null);
        }, CancellationToken.None);
    }

    public Task<Outcome<RequestView>> ReleaseAsync(Caller caller, string resource, long id, ReleaseBody body, CancellationToken ct)
    {
        if (body.ActualLoad is < 0 or > ResourcePolicy.MaxLoad)
            return Task.FromResult<Outcome<RequestView>>(Problem.Invalid("actualLoad", $"actualLoad must be between 0 and {ResourcePolicy.MaxLoad}; it is {body.ActualLoad}."));
        if (body.IdempotencyKey is { Length: 0 or > ResourceScheduler.MaxIdempotencyKeyLength })
            return Task.FromResult<Outcome<RequestView>>(Problem.Invalid("idempotencyKey", $"idempotencyKey must be 1 to {ResourceScheduler.MaxIdempotencyKeyLength} characters."));
        return Call(resource, turn =>
        {
            if (Owned(turn, caller, id, out var status) is { } missing)
                return missing;
            var result = turn.Grain.Release(id, body.ActualLoad, body.IdempotencyKey);
            return Ended(turn, caller, status, result, RequestPhase.Released);
        }, ct);
    }

    /// <summary>Claims a grant or extends a lease by one TTL.</summary>
    public Task<Outcome<RequestView>> RenewAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(resource, turn =>
        {
            if (Owned(turn, caller, id, out var status) is { } missing)
                return missing;
            var result = turn.Grain.Renew(id);
            if (result.Outcome == LeaseOutcome.NotGranted)
                return Problem.NotGranted(resource, id);
            if (!result.IsOk)
                return Gone(resource, status);
            var held = turn.Status(id);
            if (status.Phase == RequestPhase.Granted)
                turn.Announce(held);
            return new Outcome<RequestView>(RequestView.Of(held, caller), null);
        }, ct);

    /// <summary>Withdraws a waiting request, or releases a lease whose grant raced the cancel.</summary>
    public Task<Outcome<RequestView>> CancelAsync(Caller caller, string resource, long id, CancellationToken ct) =>
        Call(resource, turn =>
        {
            if (Owned(turn, caller, id, out var status) is { } missing)
                return missing;
            var result = turn.Grain.Cancel(id);
            return Ended(turn, caller, status, result, status.Phase == RequestPhase.Waiting ? RequestPhase.Cancelled : RequestPhase.Released);
        }, ct);

    /// <summary>Subscribes <paramref name="observer"/> to a request and answers where it stands, in one turn (no update can slip between).</summary>
    public Task<Outcome<RequestView>> AttachAsync(Caller caller, string resource, long id, IGrainObserver observer, CancellationToken ct) =>
        Call(resource, turn =>
        {
            if (!turn.Definition.PushEnabled)
                return Problem.PollingOnly(resource);
            if (Owned(turn, caller, id, out var status) is { } missing)
                return missing;
            if (!status.IsFinal)
                turn.Subscribe(id, observer);
            return new Outcome<RequestView>(View(turn, caller, status), null);
        }, ct);

    public Task Detach(string resource, long id, IGrainObserver observer) =>
        runtime.CallAsync(resource, turn => { turn.Unsubscribe(id, observer); return 0; });

    private Task<Outcome<RequestView>> Call(string resource, Func<GrainTurn, Outcome<RequestView>> call, CancellationToken ct) =>
        runtime.CallGatewayAsync(resource, call, ct);

    /// <summary>Finds request <paramref name="id"/> if it belongs to the caller; otherwise the answer is "unknown", whoever owns it.</summary>
    private static Problem? Owned(GrainTurn turn, Caller caller, long id, out RequestUpdate status)
    {
        status = turn.Status(id);
        return status.Phase == RequestPhase.Unknown || !caller.Owns(status.ClientId) ? Problem.UnknownRequest(turn.Resource, id) : null;
    }

    private static RequestUpdate Claim(GrainTurn turn, RequestUpdate status)
    {
        if (status.Phase != RequestPhase.Granted || !turn.Grain.Renew(status.Id).IsOk)
            return status;
        var held = turn.Status(status.Id);
        turn.Announce(held);
        return held;
    }

    private static Outcome<RequestView> Ended(GrainTurn turn, Caller caller, RequestUpdate status, LeaseResult result, RequestPhase phase)
    {
        if (result.Outcome == LeaseOutcome.NotGranted)
            return Problem.NotGranted(turn.Resource, status.Id);
        if (!result.IsOk)
            return Gone(turn.Resource, status);
        // A replayed release finds the lease already ended: answer what it ended as.
        var ended = status.IsFinal ? status : status with { Phase = phase, Position = 0 };
        if (!status.IsFinal)
            turn.Announce(ended);
        return new Outcome<RequestView>(RequestView.Of(ended, caller), null);
    }

    private static Problem Gone(string resource, RequestUpdate status) => status.IsFinal
        ? Problem.Ended(resource, status.Id, status.Phase.ToString())
        : Problem.UnknownRequest(resource, status.Id);

    private static RequestView View(GrainTurn turn, Caller caller, RequestUpdate status) => RequestView.Of(status, caller);

    /// <summary>An observer that completes on the first update (long-poll).</summary>
    private sealed class OneUpdate : IGrainObserver
    {
        private readonly TaskCompletionSource<RequestUpdate> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<RequestUpdate> Task => _done.Task;
        public void OnUpdate(RequestUpdate update) => _done.TrySetResult(update);
    }
}
