using System.Net;
using System.Net.WebSockets;
using System.Text;

namespace OrleansQueue.Tests.Silo;

/// <summary>A silo on real Kestrel (real TCP, where unread replies pile up) with a small outbox per session.</summary>
public sealed class SmallOutboxSilo : KestrelSilo
{
    protected override IEnumerable<string> Settings => ["--Silo:MaxSessionOutboxBytes", "262144", "--Silo:MaxSessionInFlight", "8"];
}

/// <summary>
/// One WebSocket session cannot take the silo's memory: a client that sends and never reads its replies is closed with
/// 1008 once more than <c>Silo:MaxSessionOutboxBytes</c> wait for it. Before the bound, 600 large attach messages grew
/// the silo by gigabytes.
/// </summary>
public sealed class SessionLimitTests(SmallOutboxSilo silo) : IClassFixture<SmallOutboxSilo>
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ASessionThatDoesNotReadItsRepliesIsClosedWith1008AndTheSiloGoesOn()
    {
        using var http = silo.CreateClient();
        await http.CreateResource("flood");
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(silo.WebSocketUri, CancellationToken.None);
        // Each names 1,000 requests of a resource name that cannot exist: about 250 KB of problems in its reply, answered
        // without a grain call, so the replies pile up at once. How much loopback's socket buffers take before the silo's
        // sends block depends on the machine (a receive buffer here may grow to 32 MB): so they are sent, without reading
        // a reply, until the silo counts the session as closed for it. The sends run on their own and are never timed
        // out: a send that waits (the silo reads no faster than it answers) is not a sign of anything.
        var attach = Encoding.UTF8.GetBytes($$"""{"op":"attach","corr":1,"resource":"no such name!","ids":[{{string.Join(",", Enumerable.Range(1, 1000))}}]}""");
        int sent = 0;
        bool bounded = false;
        var sender = Task.Run(async () =>
        {
            while (!Volatile.Read(ref bounded))
            {
                await ws.SendAsync(attach, WebSocketMessageType.Text, true, CancellationToken.None);
                Interlocked.Increment(ref sent);
            }
        });
        var deadline = DateTime.UtcNow + Generous;
        while (PrometheusText.Total(await http.GetStringAsync("/metrics"), "orleansqueue_sessions_closed_unread_total") < 1)
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"the silo never bounded the session: {Volatile.Read(ref sent)} attaches sent, the sender {(sender.IsFaulted ? "failed: " + sender.Exception!.GetBaseException().Message : sender.IsCompleted ? "ended" : "still sending")}");
            await Task.Delay(50); // the metrics endpoint has no push
        }
        Volatile.Write(ref bounded, true);

        // Now read: what was queued comes first, then the close, with its code.
        var buffer = new byte[1 << 16];
        using var reading = new CancellationTokenSource(Generous);
        WebSocketReceiveResult result;
        do
            result = await ws.ReceiveAsync(buffer, reading.Token);
        while (result.MessageType != WebSocketMessageType.Close);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ws.CloseStatus);
        Assert.Contains("unread", ws.CloseStatusDescription);
        // A send still waiting ends with the socket (the silo stops reading a session it closes).
        ws.Abort();
        await sender.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(Generous);
        // Everyone else is still served.
        Assert.Equal(HttpStatusCode.OK, (await http.Post("v1/resources/flood/acquire", "{}")).Status);
    }

    [Fact]
    public async Task AnAttachCountsAsOneGrainCallPerIdAgainstTheSessionsBound()
    {
        using var http = silo.CreateClient();
        await http.CreateResource("weighed");
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(silo.WebSocketUri, CancellationToken.None);
        // 500 ids of a resource that exists: 500 grain calls, one after another. With at most 8 calls in flight per session,
        // the ping behind it is not even read until the attach is done; counted as one operation, it would overtake it.
        var attach = $$"""{"op":"attach","corr":1,"resource":"weighed","ids":[{{string.Join(",", Enumerable.Range(1000, 500))}}]}""";
        await ws.SendAsync(Encoding.UTF8.GetBytes(attach), WebSocketMessageType.Text, true, CancellationToken.None);
        await ws.SendAsync(Encoding.UTF8.GetBytes("""{"op":"ping","corr":2}"""), WebSocketMessageType.Text, true, CancellationToken.None);

        using var reading = new CancellationTokenSource(Generous);
        var order = new List<long>();
        var buffer = new byte[1 << 20];
        while (order.Count < 2)
        {
            int length = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), reading.Token);
                length += result.Count;
            }
            while (!result.EndOfMessage);
            using var reply = System.Text.Json.JsonDocument.Parse(buffer.AsMemory(0, length));
            order.Add(reply.RootElement.GetProperty("corr").GetInt64());
        }
        Assert.Equal([1L, 2L], order);
    }

    [Fact]
    public async Task AnAttachNamingTooManyRequestsIsRefused()
    {
        using var http = silo.CreateClient();
        await http.CreateResource("many");
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(silo.WebSocketUri, CancellationToken.None);
        var attach = Encoding.UTF8.GetBytes($$"""{"op":"attach","corr":7,"resource":"many","ids":[{{string.Join(",", Enumerable.Range(1, 1001))}}]}""");

        await ws.SendAsync(attach, WebSocketMessageType.Text, true, CancellationToken.None);

        var buffer = new byte[1 << 16];
        using var reading = new CancellationTokenSource(Generous);
        var result = await ws.ReceiveAsync(buffer, reading.Token);
        string reply = Encoding.UTF8.GetString(buffer, 0, result.Count);
        Assert.Contains("\"corr\":7", reply);
        Assert.Contains("\"field\":\"ids\"", reply);
        Assert.Contains("at most 1000", reply);
    }
}

/// <summary>Each tenant may hold at most Silo:MaxStreamsPerTenant sessions and event streams on a silo; other tenants are not affected.</summary>
public sealed class TenantStreamLimitTests : IAsyncLifetime
{
    private readonly SiloFactory _factory = SiloFactory.WithKeys(("Silo:MaxStreamsPerTenant", "2"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task ATenantAtItsStreamLimitIsRefusedWhileAnotherTenantStillStreams()
    {
        var admin = _factory.ClientWithKey(SiloFactory.AdminKey);
        var a = _factory.ClientWithKey(SiloFactory.TenantAKey);
        var b = _factory.ClientWithKey(SiloFactory.TenantBKey);
        await admin.CreateResource("streams", """{"maxConcurrent":1,"defaultMaxWaitMs":600000}""");
        await a.Acquire("streams", "{}", "held");
        long ticketA = await a.Acquire("streams", "{}", "waiting");
        long ticketB = await b.Acquire("streams", "{}", "waiting");

        using var first = await OpenAsync(a, ticketA);
        using var second = await OpenAsync(a, ticketA);
        using var third = await OpenAsync(a, ticketA);
        using var other = await OpenAsync(b, ticketB);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Contains("too-many-streams", await third.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        // A stream that ends gives its place back.
        first.Dispose();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        HttpResponseMessage again;
        while ((again = await OpenAsync(a, ticketA)).StatusCode != HttpStatusCode.OK)
        {
            again.Dispose();
            Assert.True(DateTime.UtcNow < deadline, "the ended stream's place never came back");
            await Task.Delay(50);
        }
        again.Dispose();
    }

    [Fact]
    public async Task ATenantWhoseStreamsAllEndedMayOpenAgain()
    {
        var streams = new OrleansQueue.Gateway.TenantStreams(Microsoft.Extensions.Options.Options.Create(
            new OrleansQueue.Gateway.GatewayOptions { MaxStreamsPerTenant = 1 }));
        Assert.True(streams.TryEnter("a"));
        Assert.False(streams.TryEnter("a"));
        streams.Leave("a");

        // Once spun for ever here: the tenant's count of 0 was kept, and only adding a first one was tried.
        Assert.True(await Task.Run(() => streams.TryEnter("a")).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(streams.TryEnter("b"));
    }

    [Fact]
    public async Task ATenantsCallsBeyondItsLimitWaitTheirTurnWhileOtherTenantsGoOn()
    {
        var calls = new OrleansQueue.Gateway.TenantCalls(Microsoft.Extensions.Options.Options.Create(
            new OrleansQueue.Gateway.GatewayOptions { MaxCallsInFlightPerTenant = 1 }));
        var first = await calls.EnterAsync("flooder", CancellationToken.None);

        var second = calls.EnterAsync("flooder", CancellationToken.None);
        var other = await calls.EnterAsync("other", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)); // not behind the flood

        Assert.False(second.IsCompleted);
        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(30))).Dispose();
        other.Dispose();
    }

    private static Task<HttpResponseMessage> OpenAsync(HttpClient client, long ticket) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/resources/streams/requests/{ticket}/events"), HttpCompletionOption.ResponseHeadersRead);
}
