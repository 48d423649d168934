using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using OpenAI;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// <c>chatClient.AsBuilder().UseOrleansQueue(…)</c> in a Microsoft.Extensions.AI pipeline, over the OpenAI SDK's
/// <c>IChatClient</c> and an OpenAI-shaped upstream: a call waits for its estimated tokens and is charged its real usage.
/// </summary>
public sealed class ChatClientTests(KestrelSilo silo) : IClassFixture<KestrelSilo>, IAsyncLifetime
{
    private readonly HttpClient _admin = silo.CreateClient();
    private readonly FakeUpstream _upstream = new(limit: 100, TimeSpan.FromSeconds(1));
    private OrleansQueueClient _client = null!;

    public async Task InitializeAsync()
    {
        await _upstream.StartAsync();
        _client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = "chat-app" });
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _upstream.DisposeAsync();
        _admin.Dispose();
    }

    private IChatClient OpenAiChat(string resource, int maxRetries = 2) =>
        new OpenAI.Chat.ChatClient("gpt-4o", new ApiKeyCredential("sk-not-checked"), new OpenAIClientOptions
        {
            Endpoint = _upstream.OpenAiEndpoint,
            RetryPolicy = new ClientRetryPolicy(maxRetries),
        }).AsIChatClient()
        .AsBuilder()
        .UseOrleansQueue(_client, resource, o => o.DefaultMaxOutputTokens = 100)
        .Build();

    [Fact]
    public async Task ACallIsChargedTheUsageItsResponseReports()
    {
        await _admin.CreateResource("chat-usage", """{"loadPerWindow":10000,"windowMs":60000}""");
        var chat = OpenAiChat("chat-usage");

        var response = await chat.GetResponseAsync("Say hello.");

        Assert.Equal("Hello.", response.Text);
        var stats = await _client.GetStatsAsync("chat-usage");
        Assert.Equal(10000 - 11, stats.LoadLeftInWindow); // the estimate was corrected to the 11 tokens really used
        Assert.Equal(0, stats.Leases);
    }

    [Fact]
    public async Task AStreamIsChargedItsLastUsageUpdateAndHoldsItsSlotUntilItEnds()
    {
        await _admin.CreateResource("chat-stream", """{"loadPerWindow":10000,"windowMs":60000,"maxConcurrent":1}""");
        var chat = OpenAiChat("chat-stream");

        var text = new System.Text.StringBuilder();
        await foreach (var update in chat.GetStreamingResponseAsync("Say hello."))
        {
            text.Append(update.Text);
            Assert.Equal(1, (await _client.GetStatsAsync("chat-stream")).Leases); // the slot is held while it streams
        }

        Assert.Equal("Hello.", text.ToString());
        var stats = await Eventually.Value(() => _client.GetStatsAsync("chat-stream"), s => s.Leases == 0);
        Assert.Equal(10000 - 11, stats.LoadLeftInWindow);
    }

    [Fact]
    public async Task ACallWaitsForThePromptsTokensPlusTheMostItMayAnswer()
    {
        await _admin.CreateResource("chat-estimate", """{"loadPerWindow":10000,"windowMs":60000}""");
        var inner = new HeldChatClient();
        var chat = new ChatClientBuilder(inner).UseOrleansQueue(_client, "chat-estimate").Build();
        const string prompt = "Count the tokens of this prompt, please: it is how the queue weighs a call.";

        var call = chat.GetResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 200 });
        await inner.Called.Task.WaitAsync(Eventually.Generous);

        long expected = TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(prompt) + 3 + 3 + 200;
        Assert.Equal(10000 - expected, (await _client.GetStatsAsync("chat-estimate")).LoadLeftInWindow);
        inner.Answer.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")) { Usage = new UsageDetails { TotalTokenCount = 40 } });
        Assert.Equal("ok", (await call.WaitAsync(Eventually.Generous)).Text);
        Assert.Equal(10000 - 40, (await _client.GetStatsAsync("chat-estimate")).LoadLeftInWindow);
    }

    [Fact]
    public async Task AnUpstreamRefusalTheSdkRaisesIsReportedToAnAdaptiveResource()
    {
        await using var tight = new FakeUpstream(limit: 1, TimeSpan.FromSeconds(30));
        await tight.StartAsync();
        await _admin.CreateResource("chat-429", """{"adaptive":"headers"}""");
        var chat = new OpenAI.Chat.ChatClient("gpt-4o", new ApiKeyCredential("sk-not-checked"), new OpenAIClientOptions
        {
            Endpoint = tight.OpenAiEndpoint,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        }).AsIChatClient().AsBuilder().UseOrleansQueue(_client, "chat-429").Build();
        using (var direct = new HttpClient())
            await direct.GetAsync(tight.Address); // another fleet, which the queue does not know of, used the upstream's one call

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => chat.GetResponseAsync("Hi."));

        Assert.Equal(429, refused.Status);
        var adaptive = (await _client.GetStatsAsync("chat-429")).Adaptive!;
        Assert.Equal(1, adaptive.Throttles);
        Assert.True(adaptive.PausedUntil > DateTimeOffset.UtcNow.AddSeconds(20), $"paused until {adaptive.PausedUntil}: the retry-after was about 30 s");
    }

    /// <summary>An inner chat client that answers when told to.</summary>
    private sealed class HeldChatClient : IChatClient
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<ChatResponse> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Called.TrySetResult();
            return Answer.Task.WaitAsync(cancellationToken);
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
