using System.Diagnostics;
using OrleansQueue.Grains.Scheduling;

namespace OrleansQueue.Grains;

public sealed partial class ResourceGrain
{
    private const int PoolLimit = 1024;

    private readonly Dictionary<long, Request> _requests = [];
    private readonly Dictionary<string, ClientState> _clients = new(StringComparer.Ordinal);
    private readonly FairLevel[] _levels;
    private readonly TimerQueue _timers = new();
    private readonly RateWindow _rate = new();
    private readonly Stack<Request> _pool = new();
    private readonly List<ClientState> _idleClients = [];
    private int _departuresSinceSweep;

    private ResourcePolicy _policy = ResourcePolicy.Default;
    private long _window, _leaseTtl, _claimWindow, _aging, _defaultWait, _maxWait;
    private long _nextId, _lastFencingToken;
    private int _waiting, _leases;
    private long _leasedLoad;
    private long _rateReadyAt = long.MaxValue;
    private bool _budgetFreed;
    private Request? _acquiring;

    /// <summary>Clients the scheduler keeps state for: those waiting, and idle ones it still owes fairness debt to.</summary>
    internal int TrackedClients => _clients.Count;

    /// <summary>Requests waiting now.</summary>
    public int WaitingCount => _waiting;

    /// <summary>Leases held or granted and unclaimed now.</summary>
    public int LeaseCount => _leases;

    private bool HasRateLimits => _policy.RequestsPerWindow is not null || _policy.LoadPerWindow is not null;

    private int LiveTimers => _waiting + _leases;

    private void ApplyPolicy(ResourcePolicy policy)
    {
        _policy = policy;
        _window = policy.Window.Ticks;
        _leaseTtl = policy.LeaseTtl.Ticks;
        _claimWindow = policy.ClaimWindow.Ticks;
        _aging = policy.AgingInterval?.Ticks ?? 0;
        _defaultWait = policy.DefaultMaxWait.Ticks;
        _maxWait = policy.MaxWait.Ticks;
    }

    /// <summary>Whether <paramref name="load"/> fits the budget at <paramref name="now"/>.</summary>
    private bool Fits(long now, long load)
    {
        if (_policy.MaxConcurrent is { } maxConcurrent && _leases >= maxConcurrent)
            return false;
        if (!HasRateLimits)
            return true;
        _rate.Prune(now, _window);
        return (_policy.RequestsPerWindow is not { } rpw || _rate.Requests + 1 <= rpw)
            && (_policy.LoadPerWindow is not { } lpw || _rate.Load + load <= lpw);
    }

    /// <summary>Applies due timers in deadline order, then grants what fits.</summary>
    private void Advance(long now)
    {
        while (_timers.PopDue(now) is { } request)
        {
            if (request.State == RequestState.Waiting)
            {
                if (request.TimerAt < request.WaitDeadline)
                {
                    Promote(request);
                    continue;
                }
                // Budget freed before this deadline (by an earlier timer, or by rate budget coming back)
                // goes to the waitlist before anyone times out, however late the host ticks.
                if (_budgetFreed || _rateReadyAt <= now)
                {
                    TryGrant(now);
                    if (request.State != RequestState.Waiting)
                        continue;
                }
                TimeOut(request, now);
            }
            else
            {
                Debug.Assert(request.IsLease);
                bool claimed = request.State == RequestState.Active;
                if (claimed) _expired++; else _reclaimed++;
                _events.Add(new(claimed ? ResourceEventKind.LeaseExpired : ResourceEventKind.GrantReclaimed,
                    request.Id, request.ClientId, request.Load, ToTime(now), request.FencingToken, Priority: request.Priority));
                EndLease(request);
            }
        }
        TryGrant(now);
    }

    /// <summary>Grants waiting requests in order while the head fits; head-of-line blocking keeps big requests from starving.</summary>
    private void TryGrant(long now)
    {
        _budgetFreed = false;
        while (_waiting > 0)
        {
            var level = _levels[TopLevel()];
            var head = level.Top!.Head!;
            if (!Fits(now, head.Load))
            {
                bool concurrencyBound = _policy.MaxConcurrent is { } mc && _leases >= mc;
                _rateReadyAt = concurrencyBound
                    ? long.MaxValue
                    : _rate.ReadyAt(now, _window, _policy.RequestsPerWindow, _policy.LoadPerWindow, head.Load);
                return;
            }
            level.ServeTop();
            LeftWaitlist(head);
            Grant(head, now, claimed: head == _acquiring);
        }
        _rateReadyAt = long.MaxValue;
    }

    private void Grant(Request request, long now, bool claimed)
    {
        request.State = claimed ? RequestState.Active : RequestState.Pending;
        request.FencingToken = ++_lastFencingToken;
        request.GrantedAt = now;
        request.WindowSeq = HasRateLimits ? _rate.Record(now, request.Load, 1) : -1;
        _leases++;
        _leasedLoad += request.Load;
        _granted++;
        _waits.Record((now - request.EnqueuedAt) / TimeSpan.TicksPerMicrosecond);
        Arm(request, now + (claimed ? _leaseTtl : _claimWindow));
        if (!claimed)
        {
            _events.Add(new(ResourceEventKind.Granted, request.Id, request.ClientId, request.Load, ToTime(now),
                request.FencingToken, ToTime(request.TimerAt), Waited: TimeSpan.FromTicks(now - request.EnqueuedAt), Priority: request.Priority));
        }
    }

    private void EndLease(Request lease)
    {
        _leases--;
        _leasedLoad -= lease.Load;
        _budgetFreed = true;
        Recycle(lease);
        Debug.Assert(_leases >= 0 && _leasedLoad >= 0);
    }

    private void Enqueue(Request request, ClientState? client)
    {
        if (client is null)
        {
            client = new ClientState(request.ClientId);
            _clients.Add(request.ClientId, client);
        }
        request.State = RequestState.Waiting;
        request.QueueSeq = ++_queueSeq;
        _levels[request.Level].Enqueue(client.At(request.Level), request);
        client.Waiting++;
        _waiting++;
        ArmWaitTimer(request);
    }

    /// <summary>Removes a waiting request that leaves unserved.</summary>
    private void Unqueue(Request request)
    {
        _levels[request.Level].Remove(request);
        LeftWaitlist(request);
    }

    private void LeftWaitlist(Request request)
    {
        var client = _clients[request.ClientId];
        _waiting--;
        if (--client.Waiting == 0)
            Forget(client);
        _budgetFreed = true; // the head may have changed
    }

    /// <summary>Drops a client with nothing waiting, unless it still owes virtual time; those are swept later.</summary>
    private void Forget(ClientState client)
    {
        if (client.OwesNothing(_levels))
        {
            _clients.Remove(client.Id);
            return;
        }
        if (!client.Idle)
        {
            client.Idle = true;
            _idleClients.Add(client);
        }
        // Sweeping costs O(idle clients), so it runs once per that many departures: amortised O(1).
        if (++_departuresSinceSweep >= Math.Max(64, _idleClients.Count))
            SweepIdleClients();
    }

    /// <summary>Forgets idle clients whose debt virtual time has caught up with. Amortised O(1) per idle client.</summary>
    private void SweepIdleClients()
    {
        int kept = 0;
        for (int i = 0; i < _idleClients.Count; i++)
        {
            var client = _idleClients[i];
            if (client.Waiting == 0 && !client.OwesNothing(_levels))
            {
                _idleClients[kept++] = client;
                continue;
            }
            client.Idle = false;
            // Only an idle client is forgotten, and only the very object listed: the id may have come back
            // since as a new client, or this one may be waiting again.
            if (client.Waiting == 0 && _clients.TryGetValue(client.Id, out var current) && current == client)
                _clients.Remove(client.Id);
        }
        _idleClients.RemoveRange(kept, _idleClients.Count - kept);
        _departuresSinceSweep = 0;
    }

    private void Promote(Request request)
    {
        var client = _clients[request.ClientId];
        _levels[request.Level].Remove(request);
        request.Level--;
        request.QueueSeq = ++_queueSeq;
        _levels[request.Level].Enqueue(client.At(request.Level), request);
        _promoted++;
        _budgetFreed = true;
        ArmWaitTimer(request);
    }

    /// <summary>Arms the waiting request's timer at its deadline or its next promotion, whichever is first.</summary>
    private void ArmWaitTimer(Request request)
    {
        long at = request.WaitDeadline;
        if (_aging > 0 && request.Level > 0)
        {
            int promotions = (int)request.Priority - request.Level + 1;
            at = Math.Min(at, request.EnqueuedAt + promotions * _aging);
        }
        Arm(request, at);
    }

    private void TimeOut(Request request, long now)
    {
        Unqueue(request);
        _timedOut++;
        _events.Add(new(ResourceEventKind.TimedOut, request.Id, request.ClientId, request.Load, ToTime(now),
            Rejection: new Rejection(RejectionReason.TimedOut,
                $"Request {request.Id} for load {request.Load} on resource \"{Name}\" was not granted within its maximum wait of {TimeSpan.FromTicks(request.WaitDeadline - request.EnqueuedAt)}."),
            Priority: request.Priority));
        Recycle(request);
    }

    /// <summary>After a policy change: re-arm aging timers and reject waiting requests that can never fit.</summary>
    private void RecheckWaiting(long now)
    {
        var waiting = new List<Request>(_waiting);
        foreach (var request in _requests.Values)
        {
            if (request.State == RequestState.Waiting)
                waiting.Add(request);
        }
        foreach (var request in waiting)
        {
            if (_policy.LoadPerWindow is { } lpw && request.Load > lpw)
            {
                Unqueue(request);
                _rejected[(int)RejectionReason.InvalidLoad]++;
                _events.Add(new(ResourceEventKind.Rejected, request.Id, request.ClientId, request.Load, ToTime(now),
                    Rejection: NeverFits(request.Load, lpw), Priority: request.Priority));
                Recycle(request);
            }
            else
            {
                ArmWaitTimer(request);
            }
        }
    }

    private int TopLevel()
    {
        for (int i = 0; i < _levels.Length; i++)
        {
            if (_levels[i].Waiting > 0)
                return i;
        }
        return _levels.Length;
    }

    /// <summary>An upper bound of the requests served before <paramref name="request"/>, itself included.</summary>
    private int Position(Request request)
    {
        int position = 0;
        for (int i = 0; i <= request.Level; i++)
            position += _levels[i].Waiting;
        return position;
    }

    private TimeSpan? RetryAfterFor(long now, long load)
    {
        if (_policy.MaxConcurrent is { } mc && _leases >= mc)
            return null;
        long ready = _rate.ReadyAt(now, _window, _policy.RequestsPerWindow, _policy.LoadPerWindow, load);
        return ready > now ? TimeSpan.FromTicks(ready - now) : null;
    }

    private Request Rent(string clientId, long load, Priority priority, long now)
    {
        var request = _pool.Count > 0 ? _pool.Pop() : new Request();
        request.Id = ++_nextId;
        request.ClientId = clientId;
        request.Load = load;
        request.Priority = priority;
        request.Level = (int)priority;
        request.EnqueuedAt = now;
        _requests.Add(request.Id, request);
        return request;
    }

    private void Recycle(Request request)
    {
        _dirtyRequests?.Add(request.Id);
        _requests.Remove(request.Id);
        TimerQueue.Cancel(request);
        request.State = RequestState.Free;
        request.ClientId = "";
        request.Queue = null;
        request.Prev = request.Next = null;
        if (_pool.Count < PoolLimit)
            _pool.Push(request);
    }
}
