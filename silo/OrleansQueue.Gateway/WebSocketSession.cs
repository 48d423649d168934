using OrleansQueue.Grains;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using OrleansQueue.Contracts;

namespace OrleansQueue.Gateway;

/// <summary>
/// One WebSocket connection: it carries every operation of <see cref="RequestOperations"/> as JSON messages, any number
/// at once, and pushes the updates of the requests it acquired or attached the moment they are committed.
/// Ops: acquire, status, release, report (what the upstream answered), renew (claims a grant), cancel, attach (re-subscribe
/// after a reconnect), ping.
/// Orleans routes each call to the silo where the resource's grain is active and pushes come back from there. When a
/// resource this session listens to deactivates (it moves, its silo stops), the session is dropped: the client
/// reconnects and re-attaches, and the grain's next activation has the requests from the store.
/// <para>Bounded: a message is at most <see cref="GatewayOptions.MaxRequestBodyBytes"/>, an attach names at most
/// <see cref="Limits.MaxAttachIds"/> requests, at most <see cref="GatewayOptions.MaxSessionInFlight"/> grain calls run at once (an
/// attach of n ids counts n; the next message is read when room frees, so a client that sends faster than the silo
/// answers is slowed by TCP, and the replies being built stay bounded too), and at most
/// <see cref="GatewayOptions.MaxSessionOutboxBytes"/> wait to be sent: a client that does not read its replies is closed
/// with 1008, so one session cannot grow the silo's memory without bound.</para>
/// </summary>
internal sealed partial class WebSocketSession(WebSocket socket, Caller caller, RequestOperations operations, JobOperations jobs,
    GatewayOptions limits, SiloMetrics metrics, ILogger<WebSocketSession> logger) : IResourceObserver
{
    private static readonly TimeSpan UnreadPatience = TimeSpan.FromSeconds(10);
    private readonly int maxMessageBytes = limits.MaxRequestBodyBytes;
    private long _outboxBytes;
    private int _overflowed;
    private Task _sender = Task.CompletedTask;
    private readonly ConcurrentDictionary<(string Resource, long Id), JobWatch> _watched = new();
    private readonly Channel<byte[]> _outbox = Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });
    private readonly ConcurrentDictionary<(string Resource, long Id), byte> _subscriptions = new();
    private readonly CancellationTokenSource _drop = new();
    private readonly byte[] _received = new byte[ReceiveBufferBytes];
    private ObserverRegistration? _registration;

    private const int ReceiveBufferBytes = 4096;

    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, _drop.Token);
        using var registration = _registration = operations.Observe(this);
        // The send loop ends with the outbox (or the connection), not with the session's stop: what is queued when the
        // session ends (a rejection pushed just before the resource's "moved") still goes out.
        var sender = _sender = SendLoopAsync(ct);
        var inFlight = new ConcurrentDictionary<Task, byte>();
        using var slots = new SemaphoreSlim(limits.MaxSessionInFlight);
        try
        {
            while (true)
            {
                await slots.WaitAsync(stop.Token);
                if (await ReceiveAsync(stop.Token) is not { } message)
                    break;
                var parsed = ApiJson.Parse<SocketRequest?>(message, null);
                // An operation's weight is the grain calls it makes: an attach of n ids is n of them (and at most the whole
                // bound, so that one always runs). The replies it builds meanwhile stay bounded with them.
                int weight = parsed.Value is { Op: SocketOps.Attach, Ids: { Length: > 1 } ids } ? Math.Min(ids.Length, limits.MaxSessionInFlight) : 1;
                for (int taken = 1; taken < weight; taken++)
                    await slots.WaitAsync(stop.Token);
                var task = HandleAsync(parsed, stop.Token);
                inFlight[task] = 0;
                _ = task.ContinueWith(t =>
                {
                    inFlight.TryRemove(t, out _);
                    slots.Release(weight);
                }, TaskScheduler.Default);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            await Task.WhenAll(inFlight.Keys).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var watch in _watched.Values)
                await watch.DisposeAsync();
            foreach (var (resource, id) in _subscriptions.Keys)
                await operations.Detach(resource, id, registration.Reference);
            _outbox.Writer.TryComplete();
            try
            {
                await sender.WaitAsync(UnreadPatience);
            }
            catch (TimeoutException)
            {
                socket.Abort(); // a client that does not read what is left is not waited for
            }
            await stop.CancelAsync();
            await sender.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    }

    public Task OnUpdate(RequestUpdate update)
    {
        if (update.Phase == RequestPhase.Moved)
        {
            // What this session follows must be attached again: the client does that on reconnecting.
            if (!_subscriptions.IsEmpty)
                Drop();
            return Task.CompletedTask;
        }
        if (update.IsFinal)
            _subscriptions.TryRemove((update.Resource, update.Id), out _);
        Send(new SocketMessage(SocketMessageTypes.Update, Request: RequestView.Of(update, caller)));
        return Task.CompletedTask;
    }

    private IResourceObserver Self => _registration!.Reference;

    private async Task HandleAsync(Outcome<SocketRequest?> parsed, CancellationToken ct)
    {
        if (parsed.Problem is { } invalid || parsed.Value is null)
        {
            Send(SocketMessage.Refusal(0, parsed.Problem ?? Problem.InvalidJson(null, "The message is empty.")));
            return;
        }
        var m = parsed.Value;
        string resource = m.Resource ?? "";
        using var activity = SiloTelemetry.StartGateway(m.Op, m.Traceparent, m.Tracestate, m.Resource);
        try
        {
            switch (m.Op)
            {
                case SocketOps.Ping:
                    Send(new SocketMessage(SocketMessageTypes.Reply, m.Corr));
                    return;
                case SocketOps.Acquire:
                    var acquired = await operations.AcquireAsync(caller, resource,
                        new AcquireBody(m.ClientId, m.Load, m.Priority, m.MaxWaitMs, m.IdempotencyKey), Self, ct);
                    if (acquired.Value is { Push: true, State: RequestPhase.Waiting } waiting)
                        _subscriptions[(resource, waiting.Id)] = 0;
                    Reply(m.Corr, acquired);
                    return;
                case SocketOps.EnqueueJob:
                    ReplyJob(m.Corr, await jobs.EnqueueAsync(caller, resource,
                        new EnqueueBody(m.Payload, m.ClientId, m.Load, m.Priority, m.DeadlineMs, m.IdempotencyKey), ct));
                    return;
                case SocketOps.Job when m.Id is { } jobId:
                    ReplyJob(m.Corr, await jobs.GetAsync(caller, resource, jobId, ct));
                    return;
                case SocketOps.WatchJob when m.Id is { } watchedId:
                    if (_watched.ContainsKey((resource, watchedId)))
                    {
                        ReplyJob(m.Corr, await jobs.GetAsync(caller, resource, watchedId, ct));
                        return;
                    }
                    var (watched, watch) = await jobs.FollowAsync(caller, resource, watchedId, view => PushJobAsync(resource, view), ct);
                    if (watch is not null && !_watched.TryAdd((resource, watchedId), watch))
                        await watch.DisposeAsync();
                    ReplyJob(m.Corr, watched);
                    return;
                case SocketOps.CancelJob when m.Id is { } cancelledId:
                    ReplyJob(m.Corr, await jobs.CancelAsync(caller, resource, cancelledId, ct));
                    return;
                case SocketOps.Attach when (m.Ids?.Length ?? 0) > Limits.MaxAttachIds:
                    Send(SocketMessage.Refusal(m.Corr, Problem.Invalid("ids", $"An attach names at most {Limits.MaxAttachIds} requests; it names {m.Ids!.Length}.")));
                    return;
                case SocketOps.Attach:
                    var results = new List<SocketResult>();
                    foreach (long id in m.Ids ?? (m.Id is { } one ? [one] : []))
                    {
                        var attached = await operations.AttachAsync(caller, resource, id, Self, ct);
                        if (attached.Value is { } view && view.State is RequestPhase.Waiting or RequestPhase.Granted or RequestPhase.Held)
                            _subscriptions[(resource, id)] = 0;
                        results.Add(SocketResult.Of(attached));
                    }
                    Send(new SocketMessage(SocketMessageTypes.Reply, m.Corr, Results: results));
                    return;
            }
            if (m.Id is not { } requestId)
            {
                Send(SocketMessage.Refusal(m.Corr, Problem.Invalid("id", $"Op \"{m.Op}\" needs the request's id.")));
                return;
            }
            Outcome<RequestView> outcome = m.Op switch
            {
                SocketOps.Status => await operations.StatusAsync(caller, resource, requestId, ct),
                SocketOps.Release => await operations.ReleaseAsync(caller, resource, requestId, new ReleaseBody(m.ActualLoad, m.IdempotencyKey, m.Upstream), ct),
                SocketOps.Report => await operations.ReportAsync(caller, resource, requestId, m.Upstream ?? new UpstreamBody(), ct),
                SocketOps.Renew or SocketOps.Claim => await operations.RenewAsync(caller, resource, requestId, ct),
                SocketOps.Cancel => await operations.CancelAsync(caller, resource, requestId, ct),
                _ => Problem.Invalid("op", $"op must be one of acquire, status, release, report, renew, claim, cancel, attach, enqueueJob, job, watchJob, cancelJob, ping; it is \"{m.Op}\"."),
            };
            Reply(m.Corr, outcome);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Ends the session (the client reconnects and re-attaches); called when a resource it listens to moved or an upstream was lost.</summary>
    private void Drop() => _ = Task.Run(() => _drop.Cancel());

    private void Reply(long corr, Outcome<RequestView> outcome) => Send(SocketMessage.Reply(corr, outcome));

    private void ReplyJob(long corr, Outcome<JobView> outcome) => Send(SocketMessage.Reply(corr, outcome));

    /// <summary>Pushes a watched job after each change; stops watching once it has finished.</summary>
    private async Task PushJobAsync(string resource, JobView view)
    {
        Send(new SocketMessage(SocketMessageTypes.Job, Job: view));
        if (view.IsFinished && _watched.TryRemove((resource, view.Id), out var watch))
            await watch.DisposeAsync();
    }

    private void Send(SocketMessage message)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message, ApiJson.Options);
        if (Interlocked.Add(ref _outboxBytes, bytes.Length) > limits.MaxSessionOutboxBytes)
        {
            if (Interlocked.Exchange(ref _overflowed, 1) == 0)
                _ = CloseUnreadAsync();
            return;
        }
        _outbox.Writer.TryWrite(bytes);
    }

    /// <summary>
    /// The client does not read its replies. Nothing more is queued; what is queued goes out, then a close with 1008 (the
    /// send loop sends it). A client that still reads gets both; one that does not is cut off after <see cref="UnreadPatience"/>.
    /// </summary>
    private async Task CloseUnreadAsync()
    {
        _outbox.Writer.TryComplete();
        LogUnread(caller.Tenant, limits.MaxSessionOutboxBytes);
        metrics.SessionClosedUnread(caller.Tenant);
        try
        {
            await _sender.WaitAsync(UnreadPatience);
        }
        catch (TimeoutException)
        {
            socket.Abort(); // the blocked send fails, the receive loop ends, and the session lets go of everything
        }
    }

    private async Task SendLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var message in _outbox.Reader.ReadAllAsync(ct))
            {
                await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, ct);
                Interlocked.Add(ref _outboxBytes, -message.Length);
            }
            if (_overflowed != 0)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation,
                    $"more than {limits.MaxSessionOutboxBytes} bytes of replies unread", ct);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The next whole text message, or <c>null</c> when the client closed. Frames land in the session's one receive
    /// buffer (grown for a message that does not fit, up to the limit), and the message is copied out once at its exact
    /// length, since its handling runs alongside the next receive.
    /// </summary>
    private async Task<byte[]?> ReceiveAsync(CancellationToken ct)
    {
        var buffer = _received;
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxMessageBytes + 1));
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
            if (result.MessageType == WebSocketMessageType.Close)
                return null;
            length += result.Count;
            if (length > maxMessageBytes)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {maxMessageBytes} bytes", ct);
                return null;
            }
            if (result.EndOfMessage)
                return buffer.AsSpan(0, length).ToArray();
        }
    }

    [LoggerMessage(LogLevel.Warning, "A WebSocket session of tenant {Tenant} is being closed (1008): more than {Limit} bytes of replies unread")]
    private partial void LogUnread(string tenant, int limit);
}
