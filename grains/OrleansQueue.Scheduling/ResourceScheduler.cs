using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// The scheduler of one rate-limited resource: its budget (concurrency, requests and load per sliding
/// window), its waitlist (strict priority levels, fair across clients by load, FIFO within a client),
/// its leases and their expiry. A deterministic state machine: no I/O, no locks, no threads. The host
/// runs one operation at a time, takes <see cref="Events"/> after each, and calls <see cref="Tick"/>
/// at <see cref="GetNextDeadline"/>; time comes only from the <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class ResourceScheduler
{
    /// <summary>The longest client id accepted.</summary>
    public const int MaxClientIdLength = 256;

    private readonly TimeProvider _time;
    private readonly List<ResourceEvent> _events = [];

    /// <summary>Creates the scheduler of resource <paramref name="name"/>.</summary>
    /// <exception cref="InvalidPolicyException"><paramref name="policy"/> breaks a rule.</exception>
    public ResourceScheduler(string name, ResourcePolicy policy, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(policy);
        policy.EnsureValid();
        Name = name;
        _time = time ?? TimeProvider.System;
        ApplyPolicy(policy);
    }

    /// <summary>The resource's name.</summary>
    public string Name { get; }

    /// <summary>The policy in force.</summary>
    public ResourcePolicy Policy => _policy;

    /// <summary>Events since the last <see cref="ClearEvents"/>, oldest first: grants of waiting requests,
    /// timeouts, expiries, reclaims and late rejections, for the host to push to their holders.</summary>
    public IReadOnlyList<ResourceEvent> Events => _events;

    /// <summary>Forgets the events taken so far.</summary>
    public void ClearEvents() => _events.Clear();

    /// <summary>
    /// The one place a moment of the resource is written down: kept in the activity log (what the dashboard shows) when
    /// <paramref name="shown"/> names its kind, and announced as an event (what the grain publishes once durable) when there
    /// is <paramref name="announced"/> one: not when the caller's own reply carries the news (a grant it claims at once, a
    /// refusal of its acquire).
    /// </summary>
    private void Note(long now, ActivityKind? shown, ResourceEvent? announced, long id, string clientId, long load, Priority priority,
        Rejection? rejection = null, string? detail = null)
    {
        if (shown is { } kind)
            _activity.Record(now, kind, id, clientId, load, priority, rejection?.Reason, detail ?? rejection?.Message);
        if (announced is { } e)
            _events.Add(e);
    }

    private void Note(long now, ActivityKind? shown, ResourceEvent? announced, Request request, Rejection? rejection = null, string? detail = null) =>
        Note(now, shown, announced, request.Id, request.ClientId, request.Load, request.Priority, rejection, detail);

    /// <summary>
    /// Asks for a slot of <paramref name="load"/>. Granted at once when the budget allows and nothing more
    /// deserving waits; otherwise queued (a <see cref="ResourceEventKind.Granted"/> or
    /// <see cref="ResourceEventKind.TimedOut"/> event follows) or rejected with a typed reason.
    /// </summary>
    /// <param name="clientId">Who asks: fairness and quotas are per client.</param>
    /// <param name="load">The load (tokens) to reserve: 1 to <see cref="ResourcePolicy.MaxLoad"/>, and at most
    /// <see cref="ResourcePolicy.LoadPerWindow"/> when that is set.</param>
    /// <param name="priority">The priority level.</param>
    /// <param name="maxWait">How long it may wait; <c>null</c> for the policy's default, zero to refuse waiting.</param>
    /// <param name="idempotencyKey">When set, a retry with the same client and key within a day answers the same
    /// ticket or lease and changes nothing.</param>
    public AcquireResult Acquire(string clientId, long load = 1, Priority priority = Priority.Normal, TimeSpan? maxWait = null, string? idempotencyKey = null)
    {
        var result = AcquireChecked(clientId, load, priority, maxWait, idempotencyKey);
        if (result.Outcome == AcquireOutcome.Rejected)
            RecordRejection(clientId, load, priority, result.Rejection);
        return result;
    }

    private AcquireResult AcquireChecked(string clientId, long load, Priority priority, TimeSpan? maxWait, string? idempotencyKey)
    {
        if (ValidateAcquire(clientId, load, priority, maxWait, idempotencyKey) is { } invalid)
            return Reject(invalid);

        long now = Now();
        Advance(now);
        if (idempotencyKey is null)
            return AcquireCore(clientId, load, priority, maxWait, now);

        string key = IdempotencyKeyOf(clientId, idempotencyKey);
        if (_idempotency.TryGet(key, now, out var earlier))
            return Replay(earlier);
        var result = AcquireCore(clientId, load, priority, maxWait, now);
        if (result.Outcome != AcquireOutcome.Rejected)
            _idempotency.Add(new(key, result.RequestId, result.Outcome, result.FencingToken, result.ExpiresAt.UtcTicks, now, clientId, load, priority,
                result.Outcome == AcquireOutcome.Granted ? now : 0));
        return result;
    }

    private AcquireResult Replay(Persistence.IdempotencyRecord earlier)
    {
        if (_requests.TryGetValue(earlier.RequestId, out var request))
        {
            return request.IsLease
                ? AcquireResult.Granted(request.Id, request.FencingToken, ToTime(request.TimerAt))
                : AcquireResult.Queued(request.Id, Position(request));
        }
        return earlier.Outcome == AcquireOutcome.Granted
            ? AcquireResult.Granted(earlier.RequestId, earlier.FencingToken, ToTime(earlier.ExpiresAt))
            : AcquireResult.Queued(earlier.RequestId, 0);
    }

    private AcquireResult AcquireCore(string clientId, long load, Priority priority, TimeSpan? maxWait, long now)
    {
        int level = (int)priority;
        if (Fits(now, load) && level < TopEligibleLevel() && !AnyLevelOwed())
        {
            var lease = Rent(clientId, load, priority, now);
            Grant(lease, now, claimed: true);
            return AcquireResult.Granted(lease.Id, lease.FencingToken, ToTime(lease.TimerAt));
        }

        long wait = maxWait?.Ticks ?? _defaultWait;
        if (wait == 0)
        {
            return Reject(new(RejectionReason.TimedOut,
                $"Resource \"{Name}\" has no budget for load {load} now and the request may not wait (maxWait is zero).",
                RetryAfterFor(now, load)));
        }
        if (NoPlaceIn(_waitlist, clientId, now, "requests") is { } full)
            return full;

        var request = Rent(clientId, load, priority, now);
        request.WaitDeadline = now + wait;
        Enqueue(request);
        TryGrant(now, present: request);
        return request.IsLease
            ? AcquireResult.Granted(request.Id, request.FencingToken, ToTime(request.TimerAt))
            : AcquireResult.Queued(request.Id, Position(request));
    }

    /// <summary>
    /// Releases lease <paramref name="leaseId"/>: its concurrency returns at once. With
    /// <paramref name="actualLoad"/>, the window's spending is corrected by the difference from the load reserved.
    /// </summary>
    /// <param name="leaseId">The lease.</param>
    /// <param name="actualLoad">The load really used, when known.</param>
    /// <param name="idempotencyKey">When set, a retry with the same key answers <see cref="LeaseOutcome.Ok"/> again and changes nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="actualLoad"/> is negative or above <see cref="ResourcePolicy.MaxLoad"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="idempotencyKey"/> is empty or longer than <see cref="MaxIdempotencyKeyLength"/>.</exception>
    public LeaseResult Release(long leaseId, long? actualLoad = null, string? idempotencyKey = null)
    {
        if (actualLoad is < 0 or > ResourcePolicy.MaxLoad)
            throw new ArgumentOutOfRangeException(nameof(actualLoad), actualLoad, $"actualLoad must be between 0 and {ResourcePolicy.MaxLoad}.");
        if (idempotencyKey is { Length: 0 or > MaxIdempotencyKeyLength })
            throw new ArgumentException($"idempotencyKey must be 1 to {MaxIdempotencyKeyLength} characters.", nameof(idempotencyKey));
        long now = Now();
        Advance(now);
        string? key = idempotencyKey is null ? null : ReleaseKeyOf(leaseId, idempotencyKey);
        if (key is not null && _idempotency.TryGet(key, now, out _))
            return new(LeaseOutcome.Ok);
        var held = GetStatus(leaseId);
        var result = ReleaseCore(leaseId, actualLoad, now);
        if (key is not null && result.IsOk)
        {
            _idempotency.Add(new(key, leaseId, AcquireOutcome.Granted, held.FencingToken, held.ExpiresAt?.UtcTicks ?? 0, now, held.ClientId ?? "",
                held.Load, held.Priority, held.GrantedAt?.UtcTicks ?? 0));
        }
        return result;
    }

    /// <summary>
    /// The lease as it stood when a release with <paramref name="idempotencyKey"/> ended it, for as long as the key is kept
    /// (a day), whether or not the lease itself is still remembered; <c>null</c> when no such release happened. It comes back
    /// with the resource's stored state, so a release retried after a restart or a failover answers what the first one did.
    /// </summary>
    public RequestStatus? FindRelease(long leaseId, string idempotencyKey)
    {
        if (!_idempotency.TryGet(ReleaseKeyOf(leaseId, idempotencyKey), Now(), out var released))
            return null;
        return new RequestStatus(RequestStatusKind.Held, released.Priority, FencingToken: released.FencingToken,
            ExpiresAt: released.ExpiresAt > 0 ? ToTime(released.ExpiresAt) : null, ClientId: released.ClientId, Load: released.Load,
            GrantedAt: released.GrantedAt > 0 ? ToTime(released.GrantedAt) : null);
    }

    private LeaseResult ReleaseCore(long leaseId, long? actualLoad, long now)
    {
        if (!_requests.TryGetValue(leaseId, out var lease) || !IsAcquire(lease))
            return new(LeaseOutcome.NotFound);
        if (!lease.IsLease)
            return new(LeaseOutcome.NotGranted);
        if (actualLoad is { } actual && HasRateLimits)
        {
            _rate.Correct(lease.WindowSeq, actual - lease.Load, now, _window);
            _changes.WindowChanged(lease.WindowSeq);
        }
        _released++;
        EndLease(lease);
        TryGrant(now);
        return new(LeaseOutcome.Ok);
    }

    /// <summary>Claims a grant pushed to a waiting request, or extends a held lease, by one lease TTL from now.</summary>
    public LeaseResult Renew(long leaseId)
    {
        long now = Now();
        Advance(now);
        if (!_requests.TryGetValue(leaseId, out var lease) || !IsAcquire(lease))
            return new(LeaseOutcome.NotFound);
        if (!lease.IsLease)
            return new(LeaseOutcome.NotGranted);
        Hold(lease, now);
        return new(LeaseOutcome.Ok, ToTime(lease.TimerAt));
    }

    /// <summary>The holder is there: a pushed grant is claimed, a lease extended, by one lease TTL from now.</summary>
    private void Hold(Request lease, long now)
    {
        lease.State = RequestState.Active;
        Arm(lease, now + _leaseTtl);
    }

    /// <summary>
    /// Withdraws request <paramref name="requestId"/>: a waiting ticket leaves the waitlist; a grant that raced
    /// with the cancel is released, so a cancelled request never holds budget.
    /// </summary>
    public LeaseResult Cancel(long requestId)
    {
        long now = Now();
        Advance(now);
        if (!_requests.TryGetValue(requestId, out var request) || !IsAcquire(request))
            return new(LeaseOutcome.NotFound);
        if (request.IsLease)
        {
            _released++;
            EndLease(request);
        }
        else
        {
            _cancelled++;
            Unqueue(request);
            Recycle(request);
        }
        TryGrant(now);
        return new(LeaseOutcome.Ok);
    }

    /// <summary>
    /// Puts <paramref name="policy"/> in force at once. Granted leases are never revoked: a lowered limit only
    /// delays new grants. Waiting requests whose load can no longer ever fit are rejected (an event each).
    /// A new aging interval applies to the whole wait so far, but never undoes a promotion already made.
    /// Costs O(waiting) when the aging option or the load limit changes; policy updates are rare.
    /// </summary>
    /// <exception cref="InvalidPolicyException"><paramref name="policy"/> breaks a rule.</exception>
    public void UpdatePolicy(ResourcePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        policy.EnsureValid();
        long now = Now();
        Advance(now);
        var old = _policy;
        ApplyPolicy(policy);
        _changes.PolicyChanged();
        if (!ReferenceEquals(old.MinShares, policy.MinShares))
            Array.Clear(_shareCredit);
        if (!HasRateLimits)
            _rate.Clear();
        if (old.AgingInterval != policy.AgingInterval || old.LoadPerWindow != policy.LoadPerWindow)
            RecheckWaiting(now);
        // A shorter aging interval can make promotions due at once.
        Advance(now);
    }

    /// <summary>Applies everything that time alone has made due: timeouts, expiries, aging, and the grants they allow.</summary>
    public void Tick() => Advance(Now());

    /// <summary>
    /// When time alone next changes something (a timeout, an expiry, a promotion, or rate budget coming back for
    /// the request at the head), or <c>null</c> when nothing will happen until the next operation.
    /// </summary>
    public DateTimeOffset? GetNextDeadline()
    {
        long at = Math.Min(_timers.PeekAt(), _rateReadyAt);
        return at == long.MaxValue ? null : ToTime(at);
    }

    /// <summary>Where request <paramref name="requestId"/> stands, for callers that poll.</summary>
    public RequestStatus GetStatus(long requestId)
    {
        if (!_requests.TryGetValue(requestId, out var r) || !IsAcquire(r))
            return new(RequestStatusKind.Unknown);
        return r.State switch
        {
            RequestState.Waiting => new(RequestStatusKind.Waiting, (Priority)r.Level, Position(r), ExpiresAt: ToTime(r.WaitDeadline), ClientId: r.ClientId, Load: r.Load),
            RequestState.Pending => new(RequestStatusKind.Granted, r.Priority, FencingToken: r.FencingToken, ExpiresAt: ToTime(r.TimerAt), ClientId: r.ClientId, Load: r.Load, GrantedAt: ToTime(r.GrantedAt)),
            _ => new(RequestStatusKind.Held, r.Priority, FencingToken: r.FencingToken, ExpiresAt: ToTime(r.TimerAt), ClientId: r.ClientId, Load: r.Load, GrantedAt: ToTime(r.GrantedAt)),
        };
    }

    /// <summary>
    /// Closes the resource: every waiting request is refused with <paramref name="reason"/> (an event each) and every
    /// lease is dropped. The grain takes no requests afterwards that it could not take before; the host discards it.
    /// </summary>
    public void Close(RejectionReason reason = RejectionReason.ResourceDeleted)
    {
        long now = Now();
        foreach (var request in _requests.Values.ToList())
        {
            switch (request.State)
            {
                case RequestState.Waiting:
                    Unqueue(request);
                    Note(now, null, new(ResourceEventKind.Rejected, request.Id, request.ClientId, request.Load, ToTime(now),
                        Rejection: new Rejection(reason, $"Resource \"{Name}\" was deleted while request {request.Id} waited."), Priority: request.Priority), request);
                    Recycle(request);
                    break;
                case RequestState.Polling:
                    Note(now, null, new(ResourceEventKind.PollExpired, request.Id, request.ClientId, 0, ToTime(now)), request);
                    EndPoll(request);
                    break;
                case RequestState.Pending or RequestState.Active:
                    EndLease(request);
                    break;
                default:
                    Recycle(request);
                    break;
            }
        }
    }

    /// <summary>Whether the request is a plain acquire (a ticket or lease), not a job or a worker's poll.</summary>
    private static bool IsAcquire(Request request) => request.Job is null && request.State != RequestState.Polling;

    private long Now() => _time.GetUtcNow().UtcTicks;

    internal static DateTimeOffset ToTime(long ticks) => new(ticks, TimeSpan.Zero);
}
