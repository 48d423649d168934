namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// Waiting requests in serving order: strict priority levels, and within a level the fair queue of clients
/// (<see cref="FairLevel"/>), FIFO within a client. Keeps each client's fairness debt while it is owed, and
/// forgets idle clients once virtual time has passed it (swept once per that many departures: amortised O(1)).
/// </summary>
internal sealed class Waitlist
{
    private readonly FairLevel[] _levels = new FairLevel[PriorityLevels.Count];
    private readonly Dictionary<string, ClientState> _clients = new(StringComparer.Ordinal);
    private readonly List<ClientState> _idleClients = [];
    private readonly Dictionary<string, int> _tenants = new(StringComparer.Ordinal);
    private int _departuresSinceSweep;

    public Waitlist()
    {
        for (int i = 0; i < _levels.Length; i++)
            _levels[i] = new FairLevel();
    }

    public int Count { get; private set; }

    /// <summary>Clients with at least one request waiting.</summary>
    public int WaitingClients { get; private set; }

    /// <summary>How fast requests leave: the scheduler records each departure with its time.</summary>
    public DrainRate Drain { get; } = new();

    /// <summary>Clients with state kept: those waiting, and idle ones still owed fairness debt.</summary>
    public int TrackedClients => _clients.Count;

    public int WaitingAt(int level) => _levels[level].Waiting;

    public int WaitingOf(string clientId) => _clients.TryGetValue(clientId, out var c) ? c.Waiting : 0;

    /// <summary>Requests waiting from the clients of <paramref name="clientId"/>'s tenant (the part before its first colon).</summary>
    public int WaitingOfTenant(string clientId) => _tenants.GetValueOrDefault(ClientKey.TenantOf(clientId));

    /// <summary>Clients with requests waiting, and how many (a fresh dictionary, for stats).</summary>
    public Dictionary<string, int> WaitingByClient() =>
        _clients.Values.Where(c => c.Waiting > 0).ToDictionary(c => c.Id, c => c.Waiting, StringComparer.Ordinal);

    /// <summary>The most urgent level with a request waiting, or <see cref="PriorityLevels.Count"/> when empty.</summary>
    public int TopLevel()
    {
        for (int i = 0; i < _levels.Length; i++)
        {
            if (_levels[i].Waiting > 0)
                return i;
        }
        return _levels.Length;
    }

    /// <summary>The request served next, or <c>null</c>.</summary>
    public Request? Head => Count == 0 ? null : _levels[TopLevel()].Top!.Head;

    /// <summary>The request served next at <paramref name="level"/>, or <c>null</c>.</summary>
    public Request? HeadAt(int level) => _levels[level].Top?.Head;

    /// <summary>Each client's weight (null: all weigh 1); a client's weight is taken when it starts waiting.</summary>
    public Func<string, int>? Weights { get; set; }

    /// <summary>Takes new weights for the clients known now.</summary>
    public void Reweigh(Func<string, int>? weights)
    {
        Weights = weights;
        foreach (var client in _clients.Values)
            client.Weight = weights?.Invoke(client.Id) ?? 1;
    }

    /// <summary>Adds <paramref name="request"/> at its <see cref="Request.Level"/>, behind its client's earlier requests.</summary>
    public void Enqueue(Request request, bool front = false)
    {
        if (!_clients.TryGetValue(request.ClientId, out var client))
        {
            client = new ClientState(request.ClientId) { Weight = Weights?.Invoke(request.ClientId) ?? 1 };
            _clients.Add(request.ClientId, client);
        }
        if (front)
            _levels[request.Level].EnqueueFront(client.At(request.Level), request);
        else
            _levels[request.Level].Enqueue(client.At(request.Level), request);
        if (client.Waiting++ == 0)
            WaitingClients++;
        string tenant = ClientKey.TenantOf(request.ClientId);
        _tenants[tenant] = _tenants.GetValueOrDefault(tenant) + 1;
        Count++;
    }

    /// <summary>Takes <paramref name="head"/> (the <see cref="Head"/>, or a <see cref="HeadAt"/>) out to be served, advancing its
    /// level's virtual time.</summary>
    public void Serve(Request head)
    {
        var request = _levels[head.Level].ServeTop();
        System.Diagnostics.Debug.Assert(request == head);
        Left(request);
    }

    /// <summary>Takes out a request that leaves unserved (cancelled, timed out, rejected).</summary>
    public void Remove(Request request)
    {
        _levels[request.Level].Remove(request);
        Left(request);
    }

    /// <summary>Moves a request up one level, behind its client's requests already there.</summary>
    public void Promote(Request request)
    {
        var client = _clients[request.ClientId];
        _levels[request.Level].Remove(request);
        request.Level--;
        _levels[request.Level].Enqueue(client.At(request.Level), request);
    }

    /// <summary>An upper bound of the requests served before <paramref name="request"/>, itself included.</summary>
    public int Position(Request request)
    {
        int position = 0;
        for (int i = 0; i <= request.Level; i++)
            position += _levels[i].Waiting;
        return position;
    }

    private void Left(Request request)
    {
        var client = _clients[request.ClientId];
        string tenant = ClientKey.TenantOf(request.ClientId);
        if (_tenants[tenant] == 1)
            _tenants.Remove(tenant);
        else
            _tenants[tenant]--;
        Count--;
        if (--client.Waiting == 0)
        {
            WaitingClients--;
            Forget(client);
        }
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
}
