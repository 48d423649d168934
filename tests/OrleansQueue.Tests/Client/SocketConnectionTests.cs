using System.Net.WebSockets;
using OrleansQueue.Contracts;
using OrleansQueue.Client;

namespace OrleansQueue.Tests.Client;

/// <summary>The client's WebSocket connection on its own, over sockets that drop as soon as they open: disposal must
/// finish whatever state the reconnect loop is in (a test host once hung for ever in <c>DisposeAsync</c>).</summary>
public sealed class SocketConnectionTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DisposingWhileTheConnectionReconnectsAlwaysFinishes()
    {
        for (int round = 0; round < 150; round++)
        {
            int connects = 0;
            var options = new OrleansQueueClientOptions { ReconnectMinDelay = TimeSpan.FromMilliseconds(1) };
            var connection = new SocketConnection(async _ =>
            {
                Interlocked.Increment(ref connects);
                await Task.Yield();
                return new DroppingSocket();
            }, options);
            Assert.True(await connection.StartAsync(CancellationToken.None));
            // Drops from outside (as a failover does) race the loop's own reconnects, on another thread.
            using var stopDropping = new CancellationTokenSource();
            var dropping = Task.Run(() =>
            {
                while (!stopDropping.IsCancellationRequested)
                    connection.Abort();
            });
            // Let the loop go round a few times (round 0 disposes at once), so disposal lands at every point of it.
            while (Volatile.Read(ref connects) < 1 + round % 4)
                await Task.Yield();
            await connection.DisposeAsync().AsTask().WaitAsync(Generous);
            stopDropping.Cancel();
            await dropping.WaitAsync(Generous);
        }
    }

    [Fact]
    public async Task ACallWaitingForAConnectionFailsWhenTheConnectionIsDisposed()
    {
        // The silo is not there: every attempt fails, and the connection keeps trying in the background.
        var connection = new SocketConnection(_ => Task.FromException<WebSocket>(new HttpRequestException("refused")),
            new OrleansQueueClientOptions { ReconnectMinDelay = TimeSpan.FromMilliseconds(1) });
        Assert.True(await connection.StartAsync(CancellationToken.None));
        var call = connection.CallAsync(new SocketRequest(SocketOps.Ping), CancellationToken.None);
        Assert.False(call.IsCompleted);

        await connection.DisposeAsync().AsTask().WaitAsync(Generous);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => call.WaitAsync(Generous));
    }

    [Fact]
    public async Task DisposingAClientWhileItReconnectsEndsItsCallsInsteadOfRetryingThemForEver()
    {
        var client = new OrleansQueueClient(new OrleansQueueClientOptions
        {
            BaseAddress = new Uri("http://127.0.0.1:9"), // never reached: every socket comes from the connector below
            ReconnectMinDelay = TimeSpan.FromMilliseconds(1),
            ConnectWebSocket = async _ =>
            {
                await Task.Yield();
                return new DroppingSocket();
            },
        });
        var acquire = client.AcquireAsync("storm");
        Assert.False(acquire.IsCompleted);

        await client.DisposeAsync().AsTask().WaitAsync(Generous);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => acquire.WaitAsync(Generous));
    }

    /// <summary>A socket whose peer closes it the moment anything is read: the connection reconnects at once.</summary>
    private sealed class DroppingSocket : WebSocket
    {
        private volatile WebSocketState _state = WebSocketState.Open;
        public override WebSocketCloseStatus? CloseStatus => null;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _state;
        public override string? SubProtocol => null;
        public override void Abort() => _state = WebSocketState.Aborted;
        public override Task CloseAsync(WebSocketCloseStatus s, string? d, CancellationToken ct) => Task.CompletedTask;
        public override Task CloseOutputAsync(WebSocketCloseStatus s, string? d, CancellationToken ct) => Task.CompletedTask;
        public override void Dispose() => _state = WebSocketState.Closed;

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken ct)
        {
            await Task.Yield();
            return new WebSocketReceiveResult(0, WebSocketMessageType.Close, true);
        }

        // As a real socket does, it refuses sends once aborted or closed: a call that picked this socket up just as it
        // dropped learns so from its send (else it would wait for a reply that no sweep of lost calls will fail).
        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType type, bool end, CancellationToken ct) =>
            _state == WebSocketState.Open
                ? Task.CompletedTask
                : Task.FromException(new WebSocketException(WebSocketError.InvalidState, $"The socket is {_state}."));
    }
}
