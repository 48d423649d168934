using System.Net;
using System.Text.Json;
using OrleansQueue.Tests.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Proxy;

/// <summary>
/// Async calls (<c>Prefer: respond-async</c>) outlive the silo that accepted them: a silo process killed with SIGKILL while
/// one call streams and another waits, then started again on the same data, takes the waiting call without being sent a
/// new one, and does not send again the call that had begun to answer (its output would repeat): that one ends
/// dead-lettered, saying why, with the output it had.
/// </summary>
public sealed class ProxyRestartTests : IAsyncLifetime
{
    private const string UpstreamKey = "sk-restart-upstream-key-91";
    private readonly TempDirectory _folder = new("oq-proxyrestart-");
    private readonly FakeUpstream _upstream = new(limit: 1000, window: TimeSpan.FromMinutes(1));

    public Task InitializeAsync() => _upstream.StartAsync();

    public async Task DisposeAsync()
    {
        _upstream.HoldStream?.TrySetResult();
        await _upstream.DisposeAsync();
        _folder.Dispose();
    }

    private Task<SiloProcess> StartAsync() => SiloProcess.StartAsync(_folder.Path, null, "--FakeUpstream:Key", UpstreamKey);

    [Fact]
    public async Task AQueuedAsyncCallIsTakenAfterARestartAndOneCutMidAnswerIsNotSentAgain()
    {
        string baseUrl = _upstream.OpenAiEndpoint.GetLeftPart(UriPartial.Authority);
        var first = await StartAsync();
        string streaming, waiting;
        try
        {
            using var http = first.CreateClient();
            var defined = await http.Put("v1/resources/llm-restart", $$"""
                { "maxConcurrent": 1, "jobVisibilityTimeoutMs": 1500, "jobRetryDelayMs": 50, "jobMaxAttempts": 2,
                  "upstream": { "baseUrl": "{{baseUrl}}", "provider": "openai", "keySetting": "FakeUpstream:Key" } }
                """);
            Assert.Equal(HttpStatusCode.Created, defined.Status);
            _upstream.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            streaming = await AcceptedAsync(http);
            await Eventually.True(async () => (await http.Get(streaming + "/output")).Body.GetProperty("length").GetInt64() > 0);
            waiting = await AcceptedAsync(http); // queued behind the first: one at a time
            Assert.Equal("queued", (await http.Get(waiting)).Body.GetProperty("state").GetString());
        }
        finally
        {
            await first.KillAsync();
            await first.DisposeAsync();
        }
        _upstream.HoldStream.TrySetResult();

        await using var second = await StartAsync();
        using var again = second.CreateClient();
        var done = await Eventually.Value(() => again.Get(waiting), j => j.Body.GetProperty("state").GetString() is "completed" or "deadLettered");
        Assert.Equal("completed", done.Body.GetProperty("state").GetString());
        Assert.EndsWith("data: [DONE]\n\n", done.Body.GetProperty("result").GetProperty("body").GetString());

        var cut = await Eventually.Value(() => again.Get(streaming), j => j.Body.GetProperty("state").GetString() is "completed" or "deadLettered");
        Assert.Equal("deadLettered", cut.Body.GetProperty("state").GetString());
        Assert.Contains("earlier attempt ended after", cut.Body.GetProperty("error").GetString());
        Assert.Contains("\"Hel\"", (await again.Get(streaming + "/output")).Body.GetProperty("text").GetString());
        Assert.Equal(2, _upstream.Received.Count); // each call was sent once
    }

    private static async Task<string> AcceptedAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/proxy/llm-restart/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello."}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Prefer", "respond-async");
        using var accepted = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        using var body = JsonDocument.Parse(await accepted.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("location").GetString()!.TrimStart('/');
    }
}
