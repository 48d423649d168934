using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// <c>AddHttpClient(…).AddOrleansQueueHandler(resource)</c>: each request waits for a lease, the lease is held while the body
/// is read, the upstream's answer is reported at release; and the OpenAI .NET SDK, sending through such a client, never
/// meets a 429 of an upstream whose limit it was never told, once the upstream's headers are known.
/// </summary>
public sealed class HttpHandlerTests(KestrelSilo silo) : IClassFixture<KestrelSilo>, IAsyncLifetime
{
    private readonly HttpClient _admin = silo.CreateClient();
    private ServiceProvider _services = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        _admin.Dispose();
    }

    /// <summary>An app's HttpClient over <paramref name="upstream"/>, every request under a lease of <paramref name="resource"/>.</summary>
    private HttpClient HandledClient(string resource, HttpMessageHandler upstream, Action<OrleansQueueHandlerOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddOrleansQueueClient(o => { o.BaseAddress = silo.BaseAddress; o.ClientId = "http-app"; });
        services.AddHttpClient("upstream", c => c.BaseAddress = new Uri("http://upstream.invalid/"))
            .ConfigurePrimaryHttpMessageHandler(() => upstream)
            .AddOrleansQueueHandler(resource, configure);
        _services = services.BuildServiceProvider();
        return _services.GetRequiredService<IHttpClientFactory>().CreateClient("upstream");
    }

    private Task<Contracts.StatsView> Stats(string resource) => _services.GetRequiredService<OrleansQueueClient>().GetStatsAsync(resource);

    [Fact]
    public async Task AStreamedBodyKeepsItsSlotUntilItIsReadToItsEnd()
    {
        await _admin.CreateResource("http-stream", """{"maxConcurrent":1}""");
        var upstream = new StubUpstream();
        var http = HandledClient("http-stream", upstream);

        using var first = await http.GetAsync("a", HttpCompletionOption.ResponseHeadersRead);
        var second = http.GetAsync("b");
        await Eventually.True(async () => (await Stats("http-stream")).Waiting == 1);
        Assert.Equal(1, upstream.Calls); // the second waits for the slot the unread body holds

        Assert.Equal("body of /a", await first.Content.ReadAsStringAsync());
        using var answered = await second.WaitAsync(Eventually.Generous);
        Assert.Equal("body of /b", await answered.Content.ReadAsStringAsync());
        await Eventually.True(async () => (await Stats("http-stream")).Leases == 0); // buffered by HttpClient: released with it
    }

    [Fact]
    public async Task DisposingAnUnreadResponseReleasesItsSlot()
    {
        await _admin.CreateResource("http-dispose", """{"maxConcurrent":1}""");
        var http = HandledClient("http-dispose", new StubUpstream());

        var unread = await http.GetAsync("a", HttpCompletionOption.ResponseHeadersRead);
        var next = http.GetAsync("b");
        await Eventually.True(async () => (await Stats("http-dispose")).Waiting == 1);
        unread.Dispose();

        using var answered = await next.WaitAsync(Eventually.Generous);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task ARefusalOfTheQueueIsThrownBeforeAnythingIsSent()
    {
        await _admin.CreateResource("http-refused", """{"maxConcurrent":1}""");
        var upstream = new StubUpstream();
        var http = HandledClient("http-refused", upstream, o => o.MaxWait = TimeSpan.Zero);
        using var held = await http.GetAsync("a", HttpCompletionOption.ResponseHeadersRead);

        var refused = await Assert.ThrowsAsync<AcquireTimeoutException>(() => http.GetAsync("b"));

        Assert.Contains("maxWait is zero", refused.Message);
        Assert.Equal(1, upstream.Calls);
    }

    [Fact]
    public async Task TheLoadAndPriorityOfEachRequestAreAskedForAndTheUpstreamsAnswerIsReported()
    {
        await _admin.CreateResource("http-report", """{"loadPerWindow":1000,"windowMs":60000,"adaptive":"headers"}""");
        var upstream = new StubUpstream { Throttle = true };
        var http = HandledClient("http-report", upstream, o =>
        {
            o.Load = request => long.Parse(request.Headers.GetValues("X-Tokens").Single());
            o.Priority = _ => Contracts.Priority.High;
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, "a") { Headers = { { "X-Tokens", "300" } } };
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var stats = await Eventually.Value(() => Stats("http-report"), s => s.Adaptive?.PausedUntil is not null);
        Assert.Equal(700, stats.LoadLeftInWindow); // its load was the request's 300 tokens
        Assert.True(stats.Adaptive!.PausedUntil > DateTimeOffset.UtcNow.AddSeconds(20), "the upstream's retry-after of 30 s was reported");
        Assert.Equal(1, stats.Adaptive.Throttles);
    }

    [Fact]
    public async Task TheOpenAiSdkThroughTheHandlerMeetsNo429OnceTheUpstreamsHeadersAreKnown()
    {
        await using var upstream = new FakeUpstream(limit: 5, TimeSpan.FromSeconds(1));
        await upstream.StartAsync();
        await _admin.CreateResource("http-openai", """{"adaptive":"headers","defaultMaxWaitMs":60000}""");
        var http = HandledClient("http-openai", new SocketsHttpHandler());
        var chat = new ChatClient("gpt-4o", new ApiKeyCredential("sk-not-checked"), new OpenAIClientOptions
        {
            Endpoint = upstream.OpenAiEndpoint,
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a 429 would reach the caller as an exception
        });

        var first = await chat.CompleteChatAsync([new UserChatMessage("Hi")]); // the upstream's headers are known from here
        var answers = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            var mine = new List<string>();
            for (int i = 0; i < 4; i++)
                mine.Add((await chat.CompleteChatAsync([new UserChatMessage("Hi")])).Value.Content[0].Text);
            return mine;
        })).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("Hello.", first.Value.Content[0].Text);
        Assert.All(answers.SelectMany(a => a), text => Assert.Equal("Hello.", text));
        Assert.Equal(13, upstream.Accepted); // more than twice its hidden limit per window, all let through in time
        Assert.Equal(0, upstream.Refused);
        Assert.Equal(13, (await Stats("http-openai")).Granted); // each went out under a lease
    }

    /// <summary>An upstream in the handler chain: a body per path; with <see cref="Throttle"/>, 429 with a retry-after of 30 s.</summary>
    private sealed class StubUpstream : HttpMessageHandler
    {
        private int _calls;

        public bool Throttle { get; init; }
        public int Calls => _calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            var response = new HttpResponseMessage(Throttle ? HttpStatusCode.TooManyRequests : HttpStatusCode.OK)
            {
                Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes("body of " + request.RequestUri!.AbsolutePath))),
            };
            if (Throttle)
                response.Headers.Add("retry-after-ms", "30000");
            return Task.FromResult(response);
        }
    }
}
