using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>The connection was lost before the call was answered; the call may or may not have taken effect.</summary>
internal sealed class ConnectionLostException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The one WebSocket of a client, multiplexing every call (matched by correlation id) and every pushed update. When it
/// drops, calls in flight fail with <see cref="ConnectionLostException"/> and it reconnects with exponential backoff,
/// then calls <see cref="Reconnected"/> so the client can re-attach its tickets and leases. If the server (or a proxy)
/// answers the upgrade with anything but 101, WebSockets are <see cref="Refused"/> and the client uses HTTP instead.
/// </summary>
internal sealed class SocketConnection : IConnection
{
    private readonly Func<CancellationToken, Task<WebSocket>> _connect;
    private readonly OrleansQueueClientOptions _options;
    private readonly ConcurrentDictionary<long, Pending> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource<WebSocket> _open = NewOpen();
    private long _corr;
    private Task? _loop;

    public SocketConnection(Func<CancellationToken, Task<WebSocket>> connect, OrleansQueueClientOptions options)
    {
        _connect = connect;
        _options = options;
    }

    /// <summary>Pushed changes of followed requests, on the receive loop: handlers must not block.</summary>
    public Action<RequestView>? Updated { get; set; }

    /// <summary>Pushed changes of watched jobs, on the receive loop.</summary>
    public Action<JobView>? JobUpdated { get; set; }

    /// <summary>Runs after each reconnection, before new calls go out on it.</summary>
    public Func<Task>? Reconnected { get; set; }

    /// <summary>Whether the server refused the WebSocket upgrade: use HTTP.</summary>
    public bool Refused { get; private set; }

    /// <summary>Connects the first time; returns false when WebSockets are refused.</summary>
    public async Task<bool> StartAsync(CancellationToken ct)
    {
        WebSocket? socket = null;
        try
        {
            socket = await _connect(ct);
        }
        catch (WebSocketException ex) when (IsRefusal(ex))
        {
            Refused = true;
            return false;
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException)
        {
            // The silo is not there yet: keep trying in the background; calls wait for the connection.
        }
        _loop = Task.Run(() => RunAsync(socket));
        return true;
    }

    /// <summary>Sends <paramref name="request"/> and returns the reply. <paramref name="inline"/> runs on the receive loop
    /// before any later message is handled, so a caller can register for updates without missing one.</summary>
    public async Task<SocketMessage> CallAsync(SocketRequest request, CancellationToken ct, Action<SocketMessage>? inline = null)
    {
        // Throws ObjectDisposedException once disposed: unlike a lost connection, that is not worth a retry.
        var socket = await Volatile.Read(ref _open).Task.WaitAsync(ct);
        long corr = Interlocked.Increment(ref _corr);
        var (traceparent, tracestate) = ClientTelemetry.Context();
        var message = request with { Corr = corr, Traceparent = traceparent, Tracestate = tracestate };
        var pending = new Pending(inline);
        _pending[corr] = pending;
        try
        {
            await _sendLock.WaitAsync(ct);
            try
            {
                await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message, WireJson.Options), WebSocketMessageType.Text, true, ct);
            }
            finally
            {
                _sendLock.Release();
            }
            return await pending.Reply.Task.WaitAsync(ct);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException
            || (ex is OperationCanceledException && !ct.IsCancellationRequested)) // a send cut short by the socket's abort
        {
            throw new ConnectionLostException("The WebSocket was lost while sending.", ex);
        }
        finally
        {
            _pending.TryRemove(corr, out _);
        }
    }

    private async Task RunAsync(WebSocket? socket)
    {
        bool reconnecting = false;
        while (!_stop.IsCancellationRequested)
        {
            socket ??= await ConnectWithBackoffAsync();
            if (socket is null)
                return;
            long opened = Environment.TickCount64;
            var receive = ReceiveLoopAsync(socket);
            _open.TrySetResult(socket);
            if (reconnecting && Reconnected is { } reattach)
                _ = reattach().ContinueWith(_ => { }, TaskScheduler.Default);
            await receive;
            AfterLoss();
            socket = null;
            reconnecting = true;
            // A connection that is dropped as soon as it opens must not turn into a busy loop of reconnects.
            if (Environment.TickCount64 - opened < 1000)
                await Task.Delay(_options.ReconnectMinDelay, _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task<WebSocket?> ConnectWithBackoffAsync()
    {
        var backoff = new Backoff(_options);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                return await _connect(_stop.Token);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                await backoff.WaitAsync(_stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
        return null;
    }

    private void AfterLoss()
    {
        Volatile.Write(ref _open, NewOpen());
        foreach (var (_, pending) in _pending)
            pending.Reply.TrySetException(new ConnectionLostException("The WebSocket was lost before the reply."));
    }

    private async Task ReceiveLoopAsync(WebSocket socket)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    return;
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                    continue;
                Dispatch(JsonSerializer.Deserialize<SocketMessage>(message.GetBuffer().AsSpan(0, (int)message.Length), WireJson.Options)
                    ?? throw new JsonException("A WebSocket message was null."));
                message.SetLength(0);
            }
        }
        catch (Exception)
        {
            // Lost, closed, or a message this client cannot read (or a handler of it failed): whatever it was, the loop
            // ends as a lost connection does, so that the connection is made again and what it follows re-attached.
            // (A fault escaping here would end the reconnect loop and leave every pending call waiting for ever.)
        }
        finally
        {
            socket.Abort();
            socket.Dispose();
        }
    }

    private void Dispatch(SocketMessage message)
    {
        switch (message.Type)
        {
            case SocketMessageTypes.Update when message.Request is { } update:
                Updated?.Invoke(update);
                return;
            case SocketMessageTypes.Job when message.Job is { } job:
                JobUpdated?.Invoke(job);
                return;
        }
        if (message.Corr is { } corr && _pending.TryGetValue(corr, out var pending))
        {
            try
            {
                pending.Inline?.Invoke(message);
            }
            finally
            {
                pending.Reply.TrySetResult(message);
            }
        }
    }

    public void Abort()
    {
        var open = Volatile.Read(ref _open).Task;
        if (open.IsCompletedSuccessfully)
            open.Result.Abort();
    }

    private static bool IsRefusal(WebSocketException ex) =>
        ex.WebSocketErrorCode == WebSocketError.NotAWebSocket || ex.Message.Contains("status code", StringComparison.OrdinalIgnoreCase);

    private static TaskCompletionSource<WebSocket> NewOpen() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Abort();
        if (_loop is not null)
            await _loop.ContinueWith(_ => { }, TaskScheduler.Default);
        // A call still waiting for a connection would otherwise wait for one that never comes.
        Volatile.Read(ref _open).TrySetException(new ObjectDisposedException(nameof(SocketConnection)));
    }

    private sealed class Pending(Action<SocketMessage>? inline)
    {
        public Action<SocketMessage>? Inline { get; } = inline;
        public TaskCompletionSource<SocketMessage> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The default connector: a <see cref="ClientWebSocket"/> to the silo's /v1/ws, with the API key; each attempt
    /// goes to the next of <see cref="OrleansQueueClientOptions.BaseAddress"/> and its fallbacks, so a dead silo is passed over.</summary>
    public static Func<CancellationToken, Task<WebSocket>> Default(OrleansQueueClientOptions options)
    {
        Uri[] addresses = [options.BaseAddress!, .. options.FallbackAddresses];
        int next = -1;
        return async ct =>
        {
            var address = addresses[(int)((uint)Interlocked.Increment(ref next) % (uint)addresses.Length)];
            var socket = new ClientWebSocket();
            if (options.ApiKey is { } key)
                socket.Options.SetRequestHeader("X-Api-Key", key);
            var builder = new UriBuilder(address) { Scheme = address.Scheme == "https" ? "wss" : "ws" };
            builder.Path = builder.Path.TrimEnd('/') + "/v1/ws";
            try
            {
                await socket.ConnectAsync(builder.Uri, ct);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
    }
}
