using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

/// <summary>
/// The WebSocket's batched subprotocol: a frame carries one or more messages, one per line, both ways. A client that
/// does not ask for it gets one message per frame.
/// </summary>
public sealed class BatchedFramesTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task UnderTheBatchedSubprotocolOneFrameCarriesManyRequestsAndTheirRepliesComeBackLinePerMessage()
    {
        using var http = silo.CreateClient();
        await http.CreateResource("batched-frames", """{"maxConcurrent":100}""");
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("orleansqueue.batched");
        await ws.ConnectAsync(silo.WebSocketUri, CancellationToken.None);
        Assert.Equal("orleansqueue.batched", ws.SubProtocol);

        // 60 acquires and 60 pings in one frame, with a trailing line feed.
        var lines = Enumerable.Range(1, 120).Select(corr => corr % 2 == 0
            ? $$"""{"op":"ping","corr":{{corr}}}"""
            : $$"""{"op":"acquire","corr":{{corr}},"resource":"batched-frames","clientId":"c{{corr}}"}""");
        await ws.SendAsync(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"), WebSocketMessageType.Text, true, CancellationToken.None);

        var replies = new Dictionary<long, JsonElement>();
        using var reading = new CancellationTokenSource(Generous);
        while (replies.Count < 120)
        {
            string frame = await ReceiveFrameAsync(ws, reading.Token);
            foreach (string line in frame.Split('\n'))
            {
                var reply = JsonDocument.Parse(line).RootElement.Clone();
                Assert.True(replies.TryAdd(reply.GetProperty("corr").GetInt64(), reply), $"corr {reply.GetProperty("corr")} answered twice");
            }
        }
        foreach (var (corr, reply) in replies) // the acquires held (room for all), the pings answered bare
            Assert.Equal(corr % 2 == 1 ? "held" : null, reply.TryGetProperty("request", out var request) ? request.GetProperty("state").GetString() : null);
    }

    [Fact]
    public async Task WithoutTheSubprotocolEveryFrameIsOneMessage()
    {
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(silo.WebSocketUri, CancellationToken.None);
        Assert.Null(ws.SubProtocol);
        for (int corr = 1; corr <= 50; corr++)
            await ws.SendAsync(Encoding.UTF8.GetBytes($$"""{"op":"ping","corr":{{corr}}}"""), WebSocketMessageType.Text, true, CancellationToken.None);

        using var reading = new CancellationTokenSource(Generous);
        var seen = new HashSet<long>();
        while (seen.Count < 50)
        {
            string frame = await ReceiveFrameAsync(ws, reading.Token);
            Assert.DoesNotContain('\n', frame);
            Assert.True(seen.Add(JsonDocument.Parse(frame).RootElement.GetProperty("corr").GetInt64()));
        }
    }

    private static async Task<string> ReceiveFrameAsync(ClientWebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[1 << 20];
        int length = 0;
        WebSocketReceiveResult result;
        do
        {
            result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), ct);
            length += result.Count;
        }
        while (!result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
