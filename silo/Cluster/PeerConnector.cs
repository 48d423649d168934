using System.Net.WebSockets;
using OrleansQueue.Silo.Storage;

namespace OrleansQueue.Silo.Cluster;

/// <summary>
/// This silo's connections to the other silos: one pooled HTTP client whose keep-alive connections carry forwarded HTTP
/// calls (and their server-sent events back), and WebSockets that carry forwarded WebSocket sessions. A paused silo
/// (tests) opens none.
/// </summary>
public sealed class PeerConnector(ClusterView view) : IDisposable
{
    /// <summary>Marks a call one silo forwarded to another: the receiver runs it itself, so a call moves at most once.</summary>
    public const string ForwardedHeader = "X-OrleansQueue-Forwarded";

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        MaxConnectionsPerServer = 256,
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    public HttpClient Http => view.Paused ? throw new HttpRequestException("This silo is paused.") : _http;

    /// <summary>Opens a WebSocket session on <paramref name="peer"/> on behalf of a client, with the client's credentials.</summary>
    public async Task<WebSocket> ConnectAsync(SiloEntry peer, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        if (view.Paused)
            throw new WebSocketException("This silo is paused.");
        var socket = new ClientWebSocket();
        foreach (var (name, value) in headers)
            socket.Options.SetRequestHeader(name, value);
        socket.Options.SetRequestHeader(ForwardedHeader, view.Local.Id);
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        var uri = new UriBuilder(peer.Address) { Scheme = peer.Address.StartsWith("https", StringComparison.Ordinal) ? "wss" : "ws" };
        uri.Path = uri.Path.TrimEnd('/') + "/v1/ws";
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(uri.Uri, timeout.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();
}
