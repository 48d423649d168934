using System.Collections.Concurrent;
using System.Net.WebSockets;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Cluster;

/// <summary>
/// The WebSocket sessions a gateway session holds on other silos, one per owner it has forwarded to: messages for a
/// resource placed elsewhere go up unchanged, and everything the owner sends back (replies, pushed grants) comes down
/// unchanged. If an upstream is lost, <paramref name="lost"/> runs: the client's session is dropped, so the client
/// reconnects and re-attaches wherever its resources now live.
/// </summary>
internal sealed class Upstreams(PeerConnector peers, IReadOnlyDictionary<string, string> headers, Action<byte[]> relay, Action lost) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Upstream>>> _bySilo = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();

    public async Task SendAsync(SiloEntry owner, byte[] message, CancellationToken cancellationToken)
    {
        var lazy = _bySilo.GetOrAdd(owner.Id, _ => new Lazy<Task<Upstream>>(() => OpenAsync(owner)));
        Upstream upstream;
        try
        {
            upstream = await lazy.Value.WaitAsync(cancellationToken);
        }
        catch
        {
            _bySilo.TryRemove(new(owner.Id, lazy));
            throw;
        }
        await upstream.SendAsync(message, cancellationToken);
    }

    private async Task<Upstream> OpenAsync(SiloEntry owner)
    {
        var socket = await peers.ConnectAsync(owner, headers, _stop.Token);
        var upstream = new Upstream(socket);
        _ = Task.Run(() => ReceiveLoopAsync(upstream));
        return upstream;
    }

    private async Task ReceiveLoopAsync(Upstream upstream)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await upstream.Socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    relay(message.ToArray());
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
        if (!_stop.IsCancellationRequested)
            lost();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var lazy in _bySilo.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
                lazy.Value.Result.Socket.Dispose();
        }
        _stop.Dispose();
    }

    private sealed class Upstream(WebSocket socket)
    {
        private readonly SemaphoreSlim _sending = new(1, 1);

        public WebSocket Socket { get; } = socket;

        public async Task SendAsync(byte[] message, CancellationToken cancellationToken)
        {
            await _sending.WaitAsync(cancellationToken);
            try
            {
                await Socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
            finally
            {
                _sending.Release();
            }
        }
    }
}
