using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OrleansQueue.Tests.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Proxy;

/// <summary>
/// The OpenAI .NET SDK, unmodified but for its endpoint (the silo's <c>/v1/proxy/{resource}/v1</c>) and its key (an
/// OrleansQueue API key), against a fake OpenAI upstream: its calls are queued by priority under the resource's budget,
/// answered with the upstream's key in place of the caller's, streamed through as the upstream streams, charged the usage
/// the upstream reports, never refused with a 429 while they can wait, and a caller that leaves mid-stream frees its slot.
/// </summary>
public sealed class ProxyTests : IAsyncLifetime
{
    private const string Key = "proxy-tests-admin-key-0123";
    private const string UpstreamKey = "sk-upstream-secret-4f9a2c";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly ProxySilo _silo = new();
    private readonly FakeUpstream _upstream = new(limit: 1000, window: TimeSpan.FromMinutes(1));

    public async Task InitializeAsync()
    {
        await _silo.InitializeAsync();
        await _upstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _upstream.HoldStream?.TrySetResult();
        await _upstream.DisposeAsync();
        await _silo.DisposeAsync();
    }

    [Fact]
    public async Task ACallIsAnsweredWithTheUpstreamsKeyAndTheWindowIsChargedItsUsage()
    {
        await DefineAsync("llm-plain", _upstream, """ "loadPerWindow":100000 """);

        var answer = await Chat("llm-plain").CompleteChatAsync([new UserChatMessage("Say hello.")], new ChatCompletionOptions { MaxOutputTokenCount = 50 });

        Assert.Equal("Hello.", answer.Value.Content[0].Text);
        var call = Assert.Single(_upstream.Received);
        Assert.Equal($"Bearer {UpstreamKey}", call.Authorization); // the caller's OrleansQueue key never reaches the upstream
        Assert.DoesNotContain(Key, call.Body + call.ApiKey, StringComparison.Ordinal);
        var raw = answer.GetRawResponse().Headers;
        Assert.True(raw.TryGetValue("X-OrleansQueue-Fencing-Token", out string? fencing) && fencing == "1");
        Assert.True(raw.TryGetValue("X-OrleansQueue-Queued-Ms", out _));
        Assert.True(raw.TryGetValue("RateLimit-Policy", out string? policy) && policy == "\"tokens\";q=100000;w=60", policy);
        // Granted with its estimate (the prompt's few tokens and max 50) in flight: what remains is below 100,000 - 50.
        Assert.True(raw.TryGetValue("RateLimit", out string? left) && left!.StartsWith("\"tokens\";r=99", StringComparison.Ordinal), left);
        var stats = await StatsAsync("llm-plain");
        Assert.Equal((1, 0, 100_000 - 11), (stats.GetProperty("released").GetInt32(), stats.GetProperty("leases").GetInt32(), stats.GetProperty("loadLeftInWindow").GetInt64()));
    }

    [Fact]
    public async Task AStreamPassesThroughChunkByChunkWhileTheUpstreamStillStreamsAndIsChargedItsUsage()
    {
        await DefineAsync("llm-stream", _upstream, """ "loadPerWindow":100000 """);
        _upstream.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        await using var updates = Chat("llm-stream").CompleteChatStreamingAsync([new UserChatMessage("Say hello.")]).GetAsyncEnumerator();
        // The first chunk reaches the caller while the upstream holds the rest back: nothing on the way buffers it.
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(Generous));
        Assert.Equal("Hel", string.Concat(updates.Current.ContentUpdate.Select(p => p.Text)));
        Assert.False(_upstream.HoldStream.Task.IsCompleted);
        _upstream.HoldStream.SetResult();
        string text = "Hel";
        while (await updates.MoveNextAsync())
            text += string.Concat(updates.Current.ContentUpdate.Select(p => p.Text));

        Assert.Equal("Hello.", text);
        // The proxy asked for the usage chunk the caller did not ask for, and charged it.
        using var sent = JsonDocument.Parse(Assert.Single(_upstream.Received).Body);
        Assert.True(sent.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        var stats = await Eventually.Value(() => StatsAsync("llm-stream"), s => s.GetProperty("released").GetInt32() == 1);
        Assert.Equal(100_000 - 11, stats.GetProperty("loadLeftInWindow").GetInt64());
    }

    [Fact]
    public async Task WhenTheBudgetIsShortTheHigherPriorityGoesFirst()
    {
        await DefineAsync("llm-priority", _upstream, """ "maxConcurrent":1 """);
        using var http = Keyed();
        long holder = await http.Acquire("llm-priority", """{"clientId":"holder"}""", "held");

        var low = Chat("llm-priority", "low").CompleteChatAsync([new UserChatMessage("low")], new ChatCompletionOptions { EndUserId = "low-caller" });
        await Eventually.Value(() => StatsAsync("llm-priority"), s => s.GetProperty("waiting").GetInt32() == 1);
        var high = Chat("llm-priority", "high").CompleteChatAsync([new UserChatMessage("high")], new ChatCompletionOptions { EndUserId = "high-caller" });
        await Eventually.Value(() => StatsAsync("llm-priority"), s => s.GetProperty("waiting").GetInt32() == 2);
        Assert.Equal(HttpStatusCode.OK, (await http.Post($"v1/resources/llm-priority/requests/{holder}/release")).Status);

        await Task.WhenAll(low, high).WaitAsync(Generous);
        Assert.Equal(["high-caller", "low-caller"], _upstream.Received.Select(c => JsonDocument.Parse(c.Body).RootElement.GetProperty("user").GetString()));
    }

    [Fact]
    public async Task AnUpstream429IsNotPassedToACallerThatCanStillWait()
    {
        // An upstream that takes one call a second, and an SDK that does not retry: any 429 it saw would fail its call.
        await using var strict = new FakeUpstream(limit: 1, window: TimeSpan.FromSeconds(1));
        await strict.StartAsync();
        await DefineAsync("llm-strict", strict, """ "defaultMaxWaitMs":20000 """);

        var answers = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Chat("llm-strict").CompleteChatAsync([new UserChatMessage($"call {i}")])));

        Assert.All(answers, a => Assert.Equal("Hello.", a.Value.Content[0].Text));
        Assert.True(strict.Refused >= 1, "the upstream never refused: the test proved nothing");
        Assert.Equal(3, strict.Accepted);
    }

    [Fact]
    public async Task PastTheCallersWaitTheUpstreams429ReachesItWithItsRetryAfter()
    {
        await using var strict = new FakeUpstream(limit: 1, window: TimeSpan.FromSeconds(30));
        await strict.StartAsync();
        await DefineAsync("llm-impatient", strict, """ "maxConcurrent":4 """);
        await Chat("llm-impatient").CompleteChatAsync([new UserChatMessage("first")]);

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("llm-impatient", maxWaitMs: "500").CompleteChatAsync([new UserChatMessage("second")]));

        Assert.Equal(429, refused.Status);
        Assert.True(refused.GetRawResponse()!.Headers.TryGetValue("retry-after-ms", out string? retry) && long.Parse(retry!, System.Globalization.CultureInfo.InvariantCulture) > 500);
        var stats = await Eventually.Value(() => StatsAsync("llm-impatient"), s => s.GetProperty("released").GetInt32() == 2);
        Assert.Equal(0, stats.GetProperty("leases").GetInt32());
    }

    [Fact]
    public async Task ACallerThatLeavesMidStreamFreesItsSlot()
    {
        await DefineAsync("llm-leave", _upstream, """ "maxConcurrent":1 """);
        _upstream.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var leave = new CancellationTokenSource();
        await using (var updates = Chat("llm-leave").CompleteChatStreamingAsync([new UserChatMessage("long")], cancellationToken: leave.Token).GetAsyncEnumerator())
        {
            Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(Generous));
            Assert.Equal(1, (await StatsAsync("llm-leave")).GetProperty("leases").GetInt32());
            leave.Cancel();
        }

        await Eventually.Value(() => StatsAsync("llm-leave"), s => s.GetProperty("leases").GetInt32() == 0 && s.GetProperty("released").GetInt32() == 1);
        _upstream.HoldStream = null;
        var next = await Chat("llm-leave").CompleteChatAsync([new UserChatMessage("next")]);
        Assert.True(next.GetRawResponse().Headers.TryGetValue("X-OrleansQueue-Fencing-Token", out string? fencing) && fencing == "2");
    }

    [Fact]
    public async Task ACallerThatLeavesWhileWaitingWithdrawsItsTicket()
    {
        await DefineAsync("llm-withdraw", _upstream, """ "maxConcurrent":1 """);
        using var http = Keyed();
        await http.Acquire("llm-withdraw", """{"clientId":"holder"}""", "held");
        using var leave = new CancellationTokenSource();
        var waiting = Chat("llm-withdraw").CompleteChatAsync([new UserChatMessage("wait")], cancellationToken: leave.Token);
        await Eventually.Value(() => StatsAsync("llm-withdraw"), s => s.GetProperty("waiting").GetInt32() == 1);

        leave.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        var stats = await Eventually.Value(() => StatsAsync("llm-withdraw"), s => s.GetProperty("waiting").GetInt32() == 0);
        Assert.Equal(1, stats.GetProperty("cancelled").GetInt64());
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task TheResponsesApiWholeAndStreamedIsAnsweredThroughTheProxyAndChargedItsUsage()
    {
        await DefineAsync("llm-responses", _upstream, """ "loadPerWindow":100000 """);
#pragma warning disable OPENAI001 // the responses client is marked for evaluation by its SDK
        var responses = new OpenAI.Responses.ResponsesClient(new ApiKeyCredential(Key), new OpenAI.Responses.ResponsesClientOptions
        {
            Endpoint = new Uri(_silo.BaseAddress, "v1/proxy/llm-responses/v1"), RetryPolicy = new ClientRetryPolicy(0),
        });

        var whole = await responses.CreateResponseAsync("gpt-4o", "Say hello.", previousResponseId: null);
        Assert.Equal("Hello.", whole.Value.GetOutputText());
        Assert.Equal(11, whole.Value.Usage.TotalTokenCount);

        _upstream.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var text = new System.Text.StringBuilder();
        using var within = new CancellationTokenSource(Generous); // a proxy that buffered would hold the first delta back: no hang
        await foreach (var update in await responses.CreateResponseStreamingAsync("gpt-4o", "Say hello.", previousResponseId: null, within.Token))
        {
            if (update is OpenAI.Responses.StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
                _upstream.HoldStream.TrySetResult(); // the first delta came while the upstream held the rest
            }
        }
#pragma warning restore OPENAI001
        Assert.Equal("Hello.", text.ToString());
        Assert.All(_upstream.Received, call => Assert.Equal($"Bearer {UpstreamKey}", call.Authorization));
        var stats = await Eventually.Value(() => StatsAsync("llm-responses"), s => s.GetProperty("released").GetInt32() == 2);
        Assert.Equal(100_000 - 2 * 11, stats.GetProperty("loadLeftInWindow").GetInt64()); // both charged the usage they reported
    }

    [Fact]
    public async Task ACallAskedToBeAnsweredLaterIsAJobWhoseOutputGrowsAsTheUpstreamStreamsAndWhoseResultIsTheWholeAnswer()
    {
        await DefineAsync("llm-async", _upstream, """ "loadPerWindow":100000 """);
        _upstream.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var http = Keyed();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/proxy/llm-async/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello."}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Prefer", "respond-async");
        request.Headers.Add("X-OrleansQueue-Client", "writer");

        using var accepted = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal("respond-async", Assert.Single(accepted.Headers.GetValues("Preference-Applied")));
        using var answer = JsonDocument.Parse(await accepted.Content.ReadAsStringAsync());
        long id = answer.RootElement.GetProperty("job").GetProperty("id").GetInt64();
        string job = answer.RootElement.GetProperty("location").GetString()!;
        Assert.Equal($"/v1/resources/llm-async/jobs/{id}", job);
        Assert.Equal(job, accepted.Headers.Location!.OriginalString);
        Assert.Equal("writer", answer.RootElement.GetProperty("job").GetProperty("clientId").GetString());

        // The first chunk is the job's output while the upstream holds the rest back.
        var first = await Eventually.Value(() => http.Get(job.TrimStart('/') + "/output?after=0"), o => o.Body.GetProperty("text").GetString()!.Contains("\"Hel\""));
        Assert.Equal("running", first.Body.GetProperty("state").GetString());
        Assert.False(_upstream.HoldStream.Task.IsCompleted);
        _upstream.HoldStream.SetResult();
        var done = await Eventually.Value(() => http.Get(job.TrimStart('/')), j => j.Body.GetProperty("state").GetString() == "completed");

        var result = done.Body.GetProperty("result");
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        Assert.StartsWith("text/event-stream", result.GetProperty("contentType").GetString());
        string whole = result.GetProperty("body").GetString()!;
        Assert.Contains("\"lo.\"", whole);
        Assert.EndsWith("data: [DONE]\n\n", whole);
        var rest = (await http.Get(job.TrimStart('/') + $"/output?after={first.Body.GetProperty("next").GetInt64()}")).Body;
        Assert.Equal(whole, first.Body.GetProperty("text").GetString() + rest.GetProperty("text").GetString());
        Assert.True(rest.GetProperty("complete").GetBoolean());
        var call = Assert.Single(_upstream.Received);
        Assert.Equal($"Bearer {UpstreamKey}", call.Authorization);
        using var sent = JsonDocument.Parse(call.Body);
        Assert.True(sent.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        var stats = await StatsAsync("llm-async");
        Assert.Equal((1, 100_000 - 11), (stats.GetProperty("jobs").GetProperty("completed").GetInt32(), stats.GetProperty("loadLeftInWindow").GetInt64()));
    }

    [Fact]
    public async Task AnAsyncCallTheUpstreamRefusesIsRetriedOnceTheRefusalItReportedHasPausedTheResource()
    {
        await using var tight = new FakeUpstream(limit: 1, window: TimeSpan.FromSeconds(1));
        await tight.StartAsync();
        await DefineAsync("llm-async-429", tight, """ "maxConcurrent":2, "adaptive":"headers", "jobRetryDelayMs":50, "jobMaxAttempts":50 """);
        tight.HoldStream = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var http = Keyed();
        var jobs = new List<string>();
        for (int n = 0; n < 2; n++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/proxy/llm-async-429/v1/chat/completions")
            {
                Content = new StringContent("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello."}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Prefer", "respond-async");
            using var accepted = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            jobs.Add(accepted.Headers.Location!.OriginalString.TrimStart('/'));
        }
        // The first call holds the upstream's one call a second; the second is refused with its retry-after.
        await Eventually.True(() => tight.Refused == 1);
        tight.HoldStream.SetResult();

        foreach (string job in jobs)
        {
            var done = await Eventually.Value(() => http.Get(job), j => j.Body.GetProperty("state").GetString() is "completed" or "deadLettered");
            Assert.Equal("completed", done.Body.GetProperty("state").GetString());
            Assert.Equal(200, done.Body.GetProperty("result").GetProperty("status").GetInt32());
        }
        // Retried every 50 ms, the refused call would have been refused again until the window passed; the refusal it
        // reported paused the resource until the upstream's retry-after instead, and then it went through.
        Assert.Equal(1, tight.Refused);
        var stats = await StatsAsync("llm-async-429");
        Assert.True(stats.GetProperty("adaptive").GetProperty("throttles").GetInt64() >= 1, stats.ToString());
    }

    [Fact]
    public async Task ARefusalIsAProblemWithTheErrorObjectTheProviderSdkReads()
    {
        using var http = Keyed();
        Assert.Equal(HttpStatusCode.Created, (await http.Put("v1/resources/llm-none", """{"maxConcurrent":1}""")).Status);

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("llm-none").CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.Equal(404, refused.Status);
        using var body = JsonDocument.Parse(refused.GetRawResponse()!.Content.ToString());
        Assert.Equal("urn:orleansqueue:problem:no-upstream", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("no-upstream", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("names no upstream", body.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    private async Task DefineAsync(string resource, FakeUpstream upstream, string limits)
    {
        string baseUrl = upstream.OpenAiEndpoint.GetLeftPart(UriPartial.Authority);
        using var http = Keyed();
        var (status, body) = await http.Put($"v1/resources/{resource}",
            $$"""{ {{limits}}, "upstream": { "baseUrl": "{{baseUrl}}", "provider": "openai", "keySetting": "FakeUpstream:Key" } }""");
        Assert.True(status == HttpStatusCode.Created, body.ToString());
        Assert.DoesNotContain(UpstreamKey, body.ToString(), StringComparison.Ordinal);
    }

    private ChatClient Chat(string resource, string? priority = null, string? maxWaitMs = null)
    {
        var options = new OpenAIClientOptions { Endpoint = new Uri(_silo.BaseAddress, $"v1/proxy/{resource}/v1"), RetryPolicy = new ClientRetryPolicy(0) };
        if (priority is not null)
            options.AddPolicy(new HeaderPolicy("X-OrleansQueue-Priority", priority), PipelinePosition.PerCall);
        if (maxWaitMs is not null)
            options.AddPolicy(new HeaderPolicy("X-OrleansQueue-Max-Wait-Ms", maxWaitMs), PipelinePosition.PerCall);
        return new ChatClient("gpt-4o", new ApiKeyCredential(Key), options);
    }

    private HttpClient Keyed()
    {
        var http = _silo.CreateClient();
        http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return http;
    }

    private async Task<JsonElement> StatsAsync(string resource)
    {
        using var http = Keyed();
        var (status, stats) = await http.Get($"v1/resources/{resource}/stats");
        Assert.Equal(HttpStatusCode.OK, status);
        return stats;
    }

    private sealed class ProxySilo : KestrelSilo
    {
        protected override IEnumerable<string> Settings =>
            ["--Silo:ApiKeys:0:Key", Key, "--Silo:ApiKeys:0:Tenant", "apps", "--Silo:ApiKeys:0:Admin", "true", "--FakeUpstream:Key", UpstreamKey];
    }

    /// <summary>Adds one header to every request the SDK sends.</summary>
    private sealed class HeaderPolicy(string name, string value) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
