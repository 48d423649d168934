using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// The client's operations as calls to the resources' grains, for an application that runs an Orleans client of the cluster
/// or co-hosts a silo: no gateway, no socket of our own; Orleans routes each call to the silo where the grain is active. One
/// observer object receives every push (grants, expiries, job changes). The application is inside the cluster's trust
/// boundary: it calls as tenant "default" with admin rights, as an open gateway does.
/// <para>
/// When a grain moves (its silo stops, it is rebalanced) it tells its observers <see cref="RequestPhase.Moved"/>; when a
/// silo dies it cannot, and <c>siloLost</c> (membership, or the Orleans client's gateway count) says so. Either way the
/// client re-attaches what it follows, in the one code path a reconnected WebSocket uses.
/// </para>
/// </summary>
internal sealed class OrleansConnection : IConnection, IResourceObserver
{
    private static UpstreamBody? Upstream(JsonObject m) => m["upstream"]?.Deserialize<UpstreamBody>(WireJson.Options);

    private static readonly Caller Trusted = new("default", IsAdmin: true);

    private readonly IGrainFactory _grains;
    private readonly IResourceObserver _self;
    private readonly IDisposable? _siloLost;
    private readonly ResourceGrainReferences _references;
    private int _reattachQueued;
    private int _moves; // grain moves and silo losses heard of so far
    private int _disposed;

    public OrleansConnection(IGrainFactory grains, Func<Action, IDisposable>? siloLost)
    {
        _grains = grains;
        _references = new ResourceGrainReferences(grains);
        // Orleans holds the object weakly; the client holds this connection for its whole life.
        _self = grains.CreateObjectReference<IResourceObserver>(this);
        _siloLost = siloLost?.Invoke(Moved);
    }

    public Action<JsonElement>? Updated { get; set; }
    public Action<JsonElement>? JobUpdated { get; set; }
    public Func<Task>? Reconnected { get; set; }

    public async Task<JsonElement> CallAsync(JsonObject m, CancellationToken ct, Action<JsonElement>? inline = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ct.ThrowIfCancellationRequested();
        string op = (string)m["op"]!;
        string resource = (string?)m["resource"] ?? "";
        long id = (long?)m["id"] ?? 0;
        var grain = Grain(resource);
        int moves = Volatile.Read(ref _moves);
        object reply;
        try
        {
            reply = op switch
            {
                "acquire" => Request(await grain.Requests.Acquire(Trusted, new AcquireBody((string?)m["clientId"], (long?)m["load"], PriorityOf(m),
                    (long?)m["maxWaitMs"], (string?)m["idempotencyKey"]), _self).WaitAsync(ct)),
                "status" => Request(await grain.Requests.Status(Trusted, id, null).WaitAsync(ct)),
                "release" => Request(await grain.Requests.Release(Trusted, id, new ReleaseBody((long?)m["actualLoad"], (string?)m["idempotencyKey"], Upstream(m))).WaitAsync(ct)),
                "report" => Request(await grain.Requests.ReportUpstream(Trusted, id, Upstream(m) ?? new UpstreamBody()).WaitAsync(ct)),
                "renew" or "claim" => Request(await grain.Requests.Renew(Trusted, id).WaitAsync(ct)),
                "cancel" => Request(await grain.Requests.Cancel(Trusted, id).WaitAsync(ct)),
                "attach" => await AttachAsync(grain, m["ids"]!.AsArray().Select(n => (long)n!).ToList(), ct),
                "enqueueJob" => Job(await grain.Jobs.Enqueue(Trusted, new EnqueueBody(
                    m["payload"] is { } payload ? JsonSerializer.SerializeToElement(payload) : JsonDocument.Parse("null").RootElement,
                    (string?)m["clientId"], (long?)m["load"], PriorityOf(m), (long?)m["deadlineMs"], (string?)m["idempotencyKey"])).WaitAsync(ct)),
                "job" => Job(await grain.Jobs.GetJob(Trusted, id, withPayload: false).WaitAsync(ct)),
                "watchJob" => Job(await grain.Jobs.WatchJob(Trusted, id, _self, requirePush: true).WaitAsync(ct)),
                "cancelJob" => Job(await grain.Jobs.CancelJob(Trusted, id).WaitAsync(ct)),
                _ => throw new ArgumentException($"No grain call for op \"{op}\".", nameof(m)),
            };
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or ArgumentException or ObjectDisposedException))
        {
            // The call did not reach its grain or failed on its way (a silo going, a grain that could not activate):
            // like a lost connection, retried by the client; idempotency keys make that safe.
            throw new ConnectionLostException($"The call to resource \"{resource}\" failed ({ex.GetType().Name}).", ex);
        }
        var element = JsonSerializer.SerializeToElement(reply, WireJson.Options);
        inline?.Invoke(element);
        // A move heard of while this call was out may have come before its answer was followed (a ticket answered by the
        // activation that then left): attach once more, now that the caller follows it.
        if (Volatile.Read(ref _moves) != moves)
            QueueReattach();
        return element;
    }

    private async Task<object> AttachAsync(ResourceGrainReference grain, List<long> ids, CancellationToken ct)
    {
        var results = new List<object>(ids.Count);
        foreach (long id in ids)
            results.Add(Request(await grain.Requests.Attach(Trusted, id, _self).WaitAsync(ct)));
        return new { results };
    }

    /// <summary>A push from a grain (through Orleans, on its thread pool).</summary>
    Task IResourceObserver.OnUpdate(RequestUpdate update)
    {
        switch (update.Phase)
        {
            case RequestPhase.Moved:
                Moved();
                break;
            case RequestPhase.JobChanged:
                _ = PushJobAsync(update.Resource, update.Id);
                break;
            case RequestPhase.JobAssigned or RequestPhase.PollExpired:
                break; // workers take jobs over the gateway
            default:
                Updated?.Invoke(JsonSerializer.SerializeToElement(RequestView.Of(update, Trusted), WireJson.Options));
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>A watched job changed: read it and hand it on (the grain pushes that it changed, not what it is now).</summary>
    private async Task PushJobAsync(string resource, long id)
    {
        try
        {
            var job = await Grain(resource).Jobs.GetJob(Trusted, id, withPayload: false);
            if (job.Value is { } view)
                JobUpdated?.Invoke(JsonSerializer.SerializeToElement(view, WireJson.Options));
        }
        catch (Exception)
        {
            // The grain is moving: it tells Moved, and re-attaching reads the job again.
        }
    }

    private void Moved()
    {
        Interlocked.Increment(ref _moves);
        QueueReattach();
    }

    /// <summary>One re-attach for a burst of Moved pushes (a grain tells each of its requests).</summary>
    private void QueueReattach()
    {
        if (Interlocked.Exchange(ref _reattachQueued, 1) == 1)
            return;
        _ = Task.Run(async () =>
        {
            Volatile.Write(ref _reattachQueued, 0);
            if (_disposed == 0 && Reconnected is { } reattach)
                await reattach();
        });
    }

    private ResourceGrainReference Grain(string resource) => _references.Get(resource);

    private static Priority? PriorityOf(JsonObject m) =>
        (string?)m["priority"] is { } p ? Enum.Parse<Priority>(p, ignoreCase: true) : null;

    private static object Request(Outcome<RequestView> outcome) =>
        outcome.Problem is { } problem ? new { problem = WireJson.Body(problem) } : new { request = outcome.Value };

    private static object Job(Outcome<JobView> outcome) =>
        outcome.Problem is { } problem ? new { problem = WireJson.Body(problem) } : new { job = outcome.Value };

    /// <summary>Plays a grain move: the client re-attaches everything it follows.</summary>
    public void Abort() => Moved();

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _siloLost?.Dispose();
            try
            {
                _grains.DeleteObjectReference<IResourceObserver>(_self);
            }
            catch (Exception)
            {
                // The runtime is stopping already.
            }
        }
        return ValueTask.CompletedTask;
    }
}
