using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

public sealed class PushTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly HttpClient _http = silo.CreateClient();

    [Fact]
    public async Task TheEventStreamOfATicketShowsItWaitingThenPushesTheGrantTheMomentItHappens()
    {
        await _http.CreateResource("sse");
        long held = await _http.Acquire("sse", "{}", "held");
        long ticket = await _http.Acquire("sse", "{}", "waiting");

        using var stream = await _http.GetStreamAsync($"/v1/resources/sse/requests/{ticket}/events");
        using var reader = new StreamReader(stream);
        var first = await Api.NextEvent(reader);
        Assert.Equal("waiting", first.Name);

        await _http.Post($"/v1/resources/sse/requests/{held}/release");
        var pushed = await Api.NextEvent(reader);

        Assert.Equal("granted", pushed.Name);
        Assert.Equal(ticket, pushed.Data.GetProperty("id").GetInt64());
        Assert.Equal(2, pushed.Data.GetProperty("fencingToken").GetInt64());

        await _http.Post($"/v1/resources/sse/requests/{ticket}/release");
        Assert.Equal("released", (await Api.NextEvent(reader)).Name);
        // The stream ends with the request: nothing but the event's closing blank line remains.
        while (await reader.ReadLineAsync().WaitAsync(Generous) is { } rest)
            Assert.Equal("", rest);
    }

    [Fact]
    public async Task AWebSocketSessionGetsItsGrantPushedClaimsItAndReleasesIt()
    {
        await _http.CreateResource("ws");
        long held = await _http.Acquire("ws", "{}", "held");
        using var session = await Session.Open(silo.WebSocketUri);

        var acquired = await session.Call("""{"op":"acquire","corr":1,"resource":"ws","clientId":"w","load":3,"priority":"high"}""");
        Assert.Equal("waiting", acquired.GetProperty("request").GetProperty("state").GetString());
        Assert.True(acquired.GetProperty("request").GetProperty("push").GetBoolean());
        long ticket = acquired.GetProperty("request").GetProperty("id").GetInt64();

        await _http.Post($"/v1/resources/ws/requests/{held}/release");
        var update = await session.NextUpdate();
        Assert.Equal("granted", update.GetProperty("state").GetString());
        Assert.Equal(ticket, update.GetProperty("id").GetInt64());

        var claimed = await session.Call($$"""{"op":"claim","corr":2,"resource":"ws","id":{{ticket}}}""");
        Assert.Equal("held", claimed.GetProperty("request").GetProperty("state").GetString());
        var released = await session.Call($$"""{"op":"release","corr":3,"resource":"ws","id":{{ticket}},"actualLoad":2}""");
        Assert.Equal("released", released.GetProperty("request").GetProperty("state").GetString());
    }

    [Fact]
    public async Task ASessionThatReconnectsAndAttachesItsTicketGetsAGrantMadeWhileItWasAway()
    {
        await _http.CreateResource("reattach", """{"maxConcurrent":1,"claimWindowMs":60000}""");
        long held = await _http.Acquire("reattach", "{}", "held");
        long ticket;
        using (var first = await Session.Open(silo.WebSocketUri))
        {
            var acquired = await first.Call("""{"op":"acquire","corr":1,"resource":"reattach","clientId":"r"}""");
            ticket = acquired.GetProperty("request").GetProperty("id").GetInt64();
        }
        await _http.Post($"/v1/resources/reattach/requests/{held}/release");

        using var second = await Session.Open(silo.WebSocketUri);
        var attached = await second.Call($$"""{"op":"attach","corr":7,"resource":"reattach","ids":[{{ticket}}]}""");

        var result = Assert.Single(attached.GetProperty("results").EnumerateArray());
        Assert.Equal("granted", result.GetProperty("request").GetProperty("state").GetString());
    }

    [Fact]
    public async Task AMalformedMessageGetsAProblemReplyAndTheSessionLivesOn()
    {
        using var session = await Session.Open(silo.WebSocketUri);
        var bad = await session.Call("""{"op":"acquire","corr":1,"load":"x"}""", expectCorr: 0);
        Assert.Equal("load", bad.GetProperty("problem").GetProperty("field").GetString());
        var unknownOp = await session.Call("""{"op":"explode","corr":2,"id":1}""");
        Assert.Equal("op", unknownOp.GetProperty("problem").GetProperty("field").GetString());
        var pong = await session.Call("""{"op":"ping","corr":3}""");
        Assert.Equal(3, pong.GetProperty("corr").GetInt64());
    }

    [Fact]
    public async Task TheEventStreamOfAJobPushesItsProgressAndItsResult()
    {
        await _http.CreateResource("sse-job");
        long id = (await _http.Post("/v1/resources/sse-job/jobs", """{"payload":{"x":1}}""")).Body.GetProperty("id").GetInt64();

        using var stream = await _http.GetStreamAsync($"/v1/resources/sse-job/jobs/{id}/events");
        using var reader = new StreamReader(stream);
        Assert.Equal("queued", (await Api.NextEvent(reader)).Name);

        await _http.Post("/v1/resources/sse-job/jobs/take", """{"workerId":"w"}""");
        Assert.Equal("running", (await Api.NextEvent(reader)).Name);
        await _http.Post($"/v1/resources/sse-job/jobs/{id}/progress", """{"workerId":"w","progress":0.25}""");
        var progress = await Api.NextEvent(reader);
        Assert.Equal(0.25, progress.Data.GetProperty("progress").GetDouble());
        await _http.Post($"/v1/resources/sse-job/jobs/{id}/complete", """{"workerId":"w","result":"ok"}""");
        var done = await Api.NextEvent(reader);

        Assert.Equal("completed", done.Name);
        Assert.Equal("ok", done.Data.GetProperty("result").GetString());
    }

    [Fact]
    public async Task AJobWatchedOverTheWebSocketIsPushedWithEachChunkOfItsOutput()
    {
        await _http.CreateResource("ws-output");
        long id = (await _http.Post("/v1/resources/ws-output/jobs", """{"payload":{"x":1}}""")).Body.GetProperty("id").GetInt64();
        await _http.Post("/v1/resources/ws-output/jobs/take", """{"workerId":"w"}""");
        using var session = await Session.Open(silo.WebSocketUri);
        var watched = await session.Call($$"""{"op":"watchJob","corr":1,"resource":"ws-output","id":{{id}}}""");
        Assert.Equal("running", watched.GetProperty("job").GetProperty("state").GetString());

        await _http.Post($"/v1/resources/ws-output/jobs/{id}/output", """{"workerId":"w","text":"café"}""");
        var pushed = await session.NextJob(job => job.TryGetProperty("output", out _));

        var output = pushed.GetProperty("output");
        Assert.Equal(("café", 0L, 5L), (output.GetProperty("text").GetString(), output.GetProperty("offset").GetInt64(), output.GetProperty("next").GetInt64()));
        Assert.Equal(5, pushed.GetProperty("outputLength").GetInt64());
    }

    /// <summary>A raw WebSocket session speaking the gateway's JSON protocol.</summary>
    private sealed class Session : IDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly Queue<JsonElement> _updates = new();
        private readonly Queue<JsonElement> _jobs = new();

        public static async Task<Session> Open(Uri uri)
        {
            var session = new Session();
            await session._socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(Generous);
            return session;
        }

        public async Task<JsonElement> Call(string json, long? expectCorr = null)
        {
            long corr = expectCorr ?? JsonDocument.Parse(json).RootElement.GetProperty("corr").GetInt64();
            await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);
            while (true)
            {
                var message = await Receive();
                if (message.GetProperty("type").GetString() == "update")
                    _updates.Enqueue(message.GetProperty("request"));
                else if (message.GetProperty("type").GetString() == "job")
                    _jobs.Enqueue(message.GetProperty("job"));
                else if (message.GetProperty("corr").GetInt64() == corr)
                    return message;
            }
        }

        public async Task<JsonElement> NextUpdate()
        {
            while (_updates.Count == 0)
            {
                var message = await Receive();
                if (message.GetProperty("type").GetString() == "update")
                    _updates.Enqueue(message.GetProperty("request"));
            }
            return _updates.Dequeue();
        }

        /// <summary>The next watched job pushed that <paramref name="matches"/> (others are passed over).</summary>
        public async Task<JsonElement> NextJob(Func<JsonElement, bool> matches)
        {
            while (true)
            {
                while (_jobs.Count == 0)
                {
                    var message = await Receive();
                    if (message.GetProperty("type").GetString() == "job")
                        _jobs.Enqueue(message.GetProperty("job"));
                }
                var job = _jobs.Dequeue();
                if (matches(job))
                    return job;
            }
        }

        private async Task<JsonElement> Receive()
        {
            var buffer = new byte[64 * 1024];
            using var text = new MemoryStream();
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Generous);
                text.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                    return JsonDocument.Parse(text.ToArray()).RootElement.Clone();
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
