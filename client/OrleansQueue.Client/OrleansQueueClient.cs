using System.Collections.Concurrent;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// The .NET client of OrleansQueue. One instance keeps one WebSocket to a silo, shared by every call; waiting
/// acquires resume the moment their grant is pushed, without polling. When the connection drops it reconnects with
/// backoff and re-attaches its tickets and leases (their queue positions are kept by the silo). When WebSockets are
/// refused, or a resource is polling-only, it long-polls, and polls plainly if long-poll is refused too: calling code
/// does not change. Thread-safe; meant to be a singleton.
/// </summary>
public sealed partial class OrleansQueueClient : IAsyncDisposable
{
    /// <summary>The client's <see cref="System.Diagnostics.ActivitySource"/>: a span per acquire (its wait) and per release.</summary>
    public const string ActivitySourceName = "OrleansQueue.Client";

    /// <summary>The client's meter: <c>orleansqueue.client.wait</c>, <c>.leases</c>, <c>.refusals</c>.</summary>
    public const string MeterName = "OrleansQueue.Client";

    /// <summary>How often re-subscribing after a reconnect tries a resource that is moving between silos (503) before
    /// giving the request up: with the backoff, far longer than a failover.</summary>
    private const int MovingAttempts = 20;

    private readonly HttpClient _http;
    private readonly HttpApi _httpApi;
    private readonly Lazy<Task<IConnection?>> _socket;
    private readonly Func<IConnection>? _orleans;
    private readonly object _listening = new();
    private readonly ConcurrentDictionary<(string Resource, long Id), TaskCompletionSource<RequestView>> _waiters = new();
    private readonly ConcurrentDictionary<(string Resource, long Id), Lease> _leases = new();
    private readonly ConcurrentDictionary<(string Resource, long Id), RequestView> _early = new();

    /// <exception cref="ArgumentException"><paramref name="options"/> break a rule; the message names each.</exception>
    public OrleansQueueClient(OrleansQueueClientOptions options)
        : this(options, null)
    {
    }

    /// <summary>
    /// A client that calls the resources' grains through Orleans: for an application that runs an Orleans client of the
    /// cluster (<c>UseOrleansClient(c => c.UseRedisClustering(…))</c>) or co-hosts a silo. Grants are pushed to an
    /// observer of this client; no gateway, no HTTP address. The same API as over the gateway.
    /// </summary>
    /// <param name="grains">The application's <see cref="IGrainFactory"/> (its <c>IClusterClient</c>, or its silo's).</param>
    /// <param name="options">Client id, renewal and backoff; <see cref="OrleansQueueClientOptions.BaseAddress"/> is not used.</param>
    public OrleansQueueClient(IGrainFactory grains, OrleansQueueClientOptions? options = null)
        : this(options ?? new OrleansQueueClientOptions(), () => new OrleansConnection(grains, null))
    {
        ArgumentNullException.ThrowIfNull(grains);
    }

    /// <param name="orleans">Makes the Orleans connection; null for the gateway (WebSocket, long-poll, polling).</param>
    internal OrleansQueueClient(OrleansQueueClientOptions options, Func<IConnection>? orleans)
    {
        ArgumentNullException.ThrowIfNull(options);
        _orleans = orleans;
        var errors = options.ValidateFor(needsAddress: orleans is null);
        if (errors.Count > 0)
            throw new ArgumentException("Invalid OrleansQueue client options: " + string.Join(" ", errors), nameof(options));
        Options = options;
        _http = new HttpClient(options.HttpHandler ?? new SocketsHttpHandler(), disposeHandler: options.HttpHandler is null)
        {
            BaseAddress = options.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (options.ApiKey is { } key)
            _http.DefaultRequestHeaders.Add("X-Api-Key", key);
        _httpApi = new HttpApi(_http);
        _socket = new Lazy<Task<IConnection?>>(ConnectAsync);
    }

    internal OrleansQueueClientOptions Options { get; }

    /// <summary>Whether calls and pushes currently go over the WebSocket (false: HTTP, long-poll or polling).</summary>
    public bool UsesPush => _socket.IsValueCreated && _socket.Value.IsCompletedSuccessfully && _socket.Value.Result is not null;

    /// <summary>
    /// Waits for a slot of <paramref name="resource"/> and returns the lease; dispose it to release. Cancelling
    /// <paramref name="cancellationToken"/> while waiting withdraws the request from the silo's waitlist.
    /// </summary>
    /// <param name="load">Tokens to reserve (at least 1); report the real figure with <see cref="Lease.ReleaseAsync(long?, CancellationToken)"/>.</param>
    /// <param name="clientId">Who asks; defaults to <see cref="OrleansQueueClientOptions.ClientId"/>.</param>
    /// <param name="maxWait">How long the silo keeps the request waiting; null for the resource's default, zero to refuse waiting.</param>
    /// <exception cref="OrleansQueueException">A typed refusal: <see cref="QueueFullException"/>, <see cref="ClientQuotaExceededException"/>,
    /// <see cref="AcquireTimeoutException"/>, <see cref="InvalidLoadException"/>, <see cref="UnknownResourceException"/>, …</exception>
    public async Task<Lease> AcquireAsync(string resource, long load = 1, Priority priority = Priority.Normal, string? clientId = null,
        TimeSpan? maxWait = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        using var activity = ClientTelemetry.StartAcquire(resource, load, priority, clientId ?? Options.ClientId);
        long startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var lease = await WaitForLeaseAsync(resource, load, priority, clientId, maxWait, activity, cancellationToken);
            ClientTelemetry.Granted(activity, resource, priority, lease, startedAt);
            return lease;
        }
        catch (Exception error)
        {
            ClientTelemetry.Refused(activity, resource, error);
            throw;
        }
    }

    private async Task<Lease> WaitForLeaseAsync(string resource, long load, Priority priority, string? clientId, TimeSpan? maxWait,
        System.Diagnostics.Activity? activity, CancellationToken cancellationToken)
    {
        var message = new SocketRequest(SocketOps.Acquire, Resource: resource, ClientId: clientId ?? Options.ClientId, Load: load, Priority: priority,
            MaxWaitMs: maxWait is { } wait ? (long)wait.TotalMilliseconds : null,
            IdempotencyKey: Guid.NewGuid().ToString("N")); // makes retries after a lost connection safe

        TaskCompletionSource<RequestView>? pushed = null;
        // The acquire itself is not abandoned when the caller gives up: it may already be queued on the silo, and
        // only its answer tells which ticket to withdraw.
        var answered = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var acquiring = CallAsync(message, answered.Token, reply =>
        {
            // On the receive loop, before any later message: the grant cannot be pushed before we listen for it.
            if (reply.Request is { State: RequestPhase.Waiting, Push: true } waiting)
                pushed = Listen(resource, waiting.Id);
        });
        RequestView view;
        try
        {
            view = await acquiring.WaitAsync(cancellationToken);
            answered.Dispose();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller hears of its cancel once the silo has withdrawn the ticket (or 30 s have passed without an answer).
            await WithdrawWhenAnsweredAsync(resource, acquiring, answered);
            throw;
        }
        long id = view.Id;
        if (view.State == RequestPhase.Waiting)
            ClientTelemetry.Queued(activity, view.Position);
        try
        {
            while (true)
            {
                switch (view.State)
                {
                    case RequestPhase.Held:
                    case RequestPhase.Granted:
                        // A pushed grant is ours from the grant. Whatever the lease sends next claims it: its release, a
                        // report, or its first renewal, due halfway through the claim window (so a holder that died
                        // still loses the grant when the window ends). A lease released quickly costs no claim.
                        return Track(new Lease(this, resource, view));
                    case RequestPhase.Waiting:
                        try
                        {
                            view = pushed is not null
                                ? await PushedOrAskedAsync(pushed, view, resource, id, cancellationToken)
                                : await PollAsync(resource, id, cancellationToken);
                        }
                        catch (LeaseLostException unknown) when (pushed is not null && IsUnknownRequest(unknown))
                        {
                            // A re-attach after a failover was told the ticket is unknown: ask the resource where it now
                            // lives before giving up on a ticket the silo acknowledged.
                            pushed = null;
                            view = await PollAsync(resource, id, cancellationToken);
                        }
                        catch (UnknownResourceException gone)
                        {
                            // The silo acknowledged this ticket, so its resource existed: unknown now, it was deleted while
                            // the ticket waited (and before this client followed it, the silo could not say so itself).
                            throw new ResourceDeletedException("urn:orleansqueue:problem:resource-deleted", 410,
                                $"Resource \"{resource}\" was deleted while request {id} waited. ({gone.Message})", "resource", null);
                        }
                        continue;
                    default:
                        throw Ended(view);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await WithdrawAsync(resource, id);
            throw;
        }
        finally
        {
            _waiters.TryRemove((resource, id), out _);
        }
    }

    internal Task ReleaseAsync(string resource, long id, long? actualLoad, string idempotencyKey, UpstreamBody? upstream, CancellationToken ct) =>
        CallAsync(Op(SocketOps.Release, resource, id) with { ActualLoad = actualLoad, IdempotencyKey = idempotencyKey, Upstream = upstream }, ct);

    internal Task ReportAsync(string resource, long id, UpstreamBody upstream, CancellationToken ct) =>
        CallAsync(Op(SocketOps.Report, resource, id) with { Upstream = upstream }, ct);

    internal async Task<DateTimeOffset> RenewAsync(string resource, long id, CancellationToken ct) =>
        (await CallAsync(Op(SocketOps.Renew, resource, id), ct)).ExpiresAt
            ?? throw new InvalidOperationException($"The silo renewed request {id} of \"{resource}\" without saying until when.");

    internal void Forget(Lease lease)
    {
        if (_leases.TryRemove((lease.Resource, lease.Id), out _))
            ClientTelemetry.LeaseEnded(lease.Resource);
    }

    private Lease Track(Lease lease)
    {
        _leases[(lease.Resource, lease.Id)] = lease;
        return lease;
    }

    /// <summary>How long past a waiting ticket's deadline its push may be late before the client asks for its status.</summary>
    private static readonly TimeSpan OverdueGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The ticket's next push; but a push can be lost with a silo that dies between a re-attach and the ticket's grant or
    /// timeout, so a ticket not heard of by its own deadline (and a grace) is asked about once: its status answers in
    /// place of the push, and a ticket still waiting goes on waiting for it.
    /// </summary>
    private async Task<RequestView> PushedOrAskedAsync(TaskCompletionSource<RequestView> pushed, RequestView waiting, string resource, long id,
        CancellationToken ct)
    {
        var overdue = waiting.ExpiresAt is { } deadline ? deadline - DateTimeOffset.UtcNow + OverdueGrace : TimeSpan.FromMinutes(1);
        try
        {
            return await pushed.Task.WaitAsync(overdue > OverdueGrace ? overdue : OverdueGrace, ct);
        }
        catch (TimeoutException)
        {
            return await CallAsync(Op(SocketOps.Status, resource, id), ct);
        }
    }

    private TaskCompletionSource<RequestView> Listen(string resource, long id)
    {
        // Under the same lock as OnUpdate: a push on another thread (Orleans) lands either before, in _early, or after, in the waiter.
        lock (_listening)
        {
            var waiter = _waiters.GetOrAdd((resource, id), _ => new TaskCompletionSource<RequestView>(TaskCreationOptions.RunContinuationsAsynchronously));
            // The silo may push a grant made in the same turn as the acquire before the acquire's own reply.
            if (_early.TryRemove((resource, id), out var early) && early.State != RequestPhase.Waiting)
            {
                _waiters.TryRemove((resource, id), out _);
                waiter.TrySetResult(early);
            }
            return waiter;
        }
    }

    /// <summary>Without push: long-poll until the request leaves the waitlist, or poll if long-poll is refused. A resource
    /// moving between silos (503) or a lost connection is waited out; a ticket called unknown is asked about once more,
    /// after a pause, before the wait gives up (the answer may have come from an activation that was just replaced).</summary>
    private async Task<RequestView> PollAsync(string resource, long id, CancellationToken ct)
    {
        var backoff = new Backoff(Options);
        bool askedAgain = false;
        while (true)
        {
            try
            {
                if (Options.Transport != ClientTransport.Poll && !_httpApi.LongPollRefused && _http.BaseAddress is not null)
                {
                    try
                    {
                        var view = await _httpApi.WaitAsync(resource, id, TimeSpan.FromSeconds(30), ct);
                        if (view.State != RequestPhase.Waiting)
                            return view;
                        backoff.Reset();
                        continue;
                    }
                    catch (ConnectionLostException) when (_httpApi.LongPollRefused)
                    {
                    }
                }
                var status = await CallAsync(Op(SocketOps.Status, resource, id), ct);
                if (status.State != RequestPhase.Waiting)
                    return status;
                backoff.Reset();
                await Task.Delay(Options.PollInterval, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested
                && (ex is ConnectionLostException or OrleansQueueException { Status: 503 } || (ex is LeaseLostException lost && IsUnknownRequest(lost) && !askedAgain)))
            {
                askedAgain |= ex is LeaseLostException;
                await backoff.WaitAsync(ct);
            }
        }
    }

    private static bool IsUnknownRequest(OrleansQueueException ex) => ex.Type.EndsWith(":unknown-request", StringComparison.Ordinal);

    private async Task WithdrawWhenAnsweredAsync(string resource, Task<RequestView> acquiring, CancellationTokenSource answered)
    {
        try
        {
            var view = await acquiring;
            _waiters.TryRemove((resource, view.Id), out _);
            await WithdrawAsync(resource, view.Id);
        }
        catch (Exception ex) when (ex is OrleansQueueException or OperationCanceledException)
        {
            // Refused or never answered: nothing to withdraw.
        }
        finally
        {
            answered.Dispose();
        }
    }

    /// <summary>Withdraws a request whose caller gave up; a grant that raced the cancel is released by it.</summary>
    private async Task WithdrawAsync(string resource, long id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await CallAsync(Op(SocketOps.Cancel, resource, id), timeout.Token);
        }
        catch (Exception ex) when (ex is OrleansQueueException or OperationCanceledException)
        {
            // Already gone, or the silo is unreachable: its wait or claim window will end it.
        }
    }

    /// <summary>One request operation, over the WebSocket when there is one, else over HTTP; retried after a lost
    /// connection (acquire and release carry idempotency keys, the rest are idempotent). Returns the request's view.</summary>
    private async Task<RequestView> CallAsync(SocketRequest message, CancellationToken ct, Action<SocketMessage>? inline = null)
    {
        var backoff = new Backoff(Options);
        while (true)
        {
            try
            {
                var socket = await _socket.Value.WaitAsync(ct);
                if (socket is null)
                    return await _httpApi.CallAsync(message, ct);
                return Answer(await socket.CallAsync(message, ct, inline)).Request
                    ?? throw new ConnectionLostException($"{message.Op} was answered without its request.");
            }
            catch (Exception ex) when (ex is ConnectionLostException || (ex is OrleansQueueException { Status: 503 } && !ct.IsCancellationRequested))
            {
                // A lost connection, or a resource moving between silos: nothing took effect, so the same call again is safe.
                await backoff.WaitAsync(ct);
            }
        }
    }

    private async Task<IConnection?> ConnectAsync()
    {
        if (_orleans is not null)
        {
            var grains = _orleans();
            grains.Updated = OnUpdate;
            grains.JobUpdated = OnJobUpdate;
            grains.Reconnected = () => ReattachAsync(grains);
            return grains;
        }
        if (Options.Transport != ClientTransport.Auto)
            return null;
        var socket = new SocketConnection(Options.ConnectWebSocket ?? SocketConnection.Default(Options), Options)
        {
            Updated = OnUpdate,
            JobUpdated = OnJobUpdate,
        };
        socket.Reconnected = () => ReattachAsync(socket);
        if (await socket.StartAsync(CancellationToken.None))
            return socket;
        await socket.DisposeAsync();
        return null;
    }

    /// <summary>The reply itself, or its problem thrown typed.</summary>
    private static SocketMessage Answer(SocketMessage reply) =>
        reply.Problem is { } problem ? throw OrleansQueueException.FromProblem(problem) : reply;

    private void OnUpdate(RequestView view)
    {
        lock (_listening)
            OnUpdateListened(view);
    }

    private void OnUpdateListened(RequestView view)
    {
        var key = (view.Resource, view.Id);
        var state = view.State;
        if (state != RequestPhase.Waiting && _waiters.TryRemove(key, out var waiter))
            waiter.TrySetResult(view);
        else if (_leases.TryGetValue(key, out var lease))
        {
            if (state is RequestPhase.Expired or RequestPhase.Reclaimed)
                lease.MarkLost();
        }
        else if (state is RequestPhase.Granted or RequestPhase.TimedOut or RequestPhase.Rejected or RequestPhase.Reclaimed)
        {
            // An update that overtook the reply of its acquire: kept until the acquire listens (bounded).
            _early[key] = view;
            while (_early.Count > 1024 && _early.Keys.FirstOrDefault() is var oldest)
                _early.TryRemove(oldest, out _);
        }
    }

    /// <summary>After a reconnect: subscribes again to every watched job, waiting ticket and held lease, and learns what
    /// happened meanwhile.</summary>
    private async Task ReattachAsync(IConnection socket)
    {
        foreach (var (resource, id) in _jobWaiters.Keys)
        {
            if (!await WatchJobAgainAsync(socket, resource, id))
                return; // the connection went again: the next reconnect watches again
        }
        var byResource = _waiters.Keys.Concat(_leases.Keys).GroupBy(k => k.Resource);
        foreach (var group in byResource)
        {
            if (!await AttachAsync(socket, group.Key, group.Select(k => k.Id).ToList()))
                return;
        }
    }

    /// <summary>Watches a job again; while its resource moves between silos (503) it tries again with backoff, and a job
    /// the silo no longer knows fails its waiter. Returns false when the connection was lost.</summary>
    private async Task<bool> WatchJobAgainAsync(IConnection socket, string resource, long id)
    {
        var backoff = new Backoff(Options);
        for (int attempt = 0; ; attempt++)
        {
            SocketMessage reply;
            try
            {
                reply = await socket.CallAsync(Op(SocketOps.WatchJob, resource, id), CancellationToken.None);
            }
            catch (ConnectionLostException)
            {
                return false;
            }
            if (reply.Job is { } job)
            {
                OnJobUpdate(job);
                return true;
            }
            var problem = reply.Problem ?? new ProblemBody("", "", 500, $"watchJob of job {id} was answered with neither job nor problem.");
            if (problem.Status != 503 || attempt >= MovingAttempts)
            {
                if (_jobWaiters.TryRemove((resource, id), out var waiter))
                    waiter.TrySetException(OrleansQueueException.FromProblem(problem));
                return true;
            }
            await backoff.WaitAsync();
        }
    }

    /// <summary>Attaches to one resource's requests, at most <see cref="Limits.MaxAttachIds"/> a message; what is moving
    /// between silos (503) is tried again with backoff. Returns false when the connection was lost.</summary>
    private async Task<bool> AttachAsync(IConnection socket, string resource, List<long> ids)
    {
        foreach (var chunk in ids.Chunk(Limits.MaxAttachIds))
        {
            if (!await AttachChunkAsync(socket, resource, [.. chunk]))
                return false;
        }
        return true;
    }

    private async Task<bool> AttachChunkAsync(IConnection socket, string resource, List<long> ids)
    {
        var backoff = new Backoff(Options);
        for (int attempt = 0; ids.Count > 0; attempt++)
        {
            SocketMessage reply;
            try
            {
                reply = await socket.CallAsync(new SocketRequest(SocketOps.Attach, Resource: resource, Ids: [.. ids]), CancellationToken.None);
            }
            catch (ConnectionLostException)
            {
                return false;
            }
            var retry = new List<long>();
            if (reply.Problem is { } whole)
            {
                if (whole.Status == 503 && attempt < MovingAttempts)
                    retry = ids;
                else
                    ids.ForEach(id => Detached((resource, id), whole));
            }
            else
            {
                var results = reply.Results ?? [];
                for (int i = 0; i < results.Count; i++)
                {
                    if (results[i].Request is { } view)
                        OnUpdate(view);
                    else if (results[i].Problem is { Status: 503 } && attempt < MovingAttempts)
                        retry.Add(ids[i]);
                    else
                        Detached((resource, ids[i]), results[i].Problem ?? new ProblemBody("", "", 500, $"Attach of request {ids[i]} was answered with neither request nor problem."));
                }
            }
            ids = retry;
            if (ids.Count > 0)
                await backoff.WaitAsync();
        }
        return true;
    }

    /// <summary>A request the silo no longer knows: its waiter fails with the problem, its lease is lost.</summary>
    private void Detached((string Resource, long Id) key, ProblemBody problem)
    {
        if (_waiters.TryRemove(key, out var waiter))
            waiter.TrySetException(OrleansQueueException.FromProblem(problem));
        else if (_leases.TryGetValue(key, out var lease))
            lease.MarkLost();
    }

    private static SocketRequest Op(string op, string resource, long id) => new(op, Resource: resource, Id: id);

    /// <summary>The exception for a request that ended without a lease (from the problem table's endings).</summary>
    private static OrleansQueueException Ended(RequestView view) =>
        ProblemTypes.Ended(view.State, view.Reason, view.Detail ?? $"The request ended: {view.State}.");

    public async ValueTask DisposeAsync()
    {
        if (_socket.IsValueCreated && await _socket.Value.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default) is { } socket)
            await socket.DisposeAsync();
        _http.Dispose();
    }

    /// <summary>For tests: drops the WebSocket as a network failure would; the client reconnects and re-attaches.</summary>
    internal void DropConnection()
    {
        if (UsesPush)
            _socket.Value.Result!.Abort();
    }
}
