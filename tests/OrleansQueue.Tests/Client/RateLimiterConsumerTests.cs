using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;
using Polly;
using Polly.RateLimiting;

namespace OrleansQueue.Tests.Client;

/// <summary>
/// <see cref="OrleansQueueRateLimiter"/> in the hands of the libraries that take a <see cref="RateLimiter"/>: ASP.NET Core's
/// rate limiting middleware, Polly's rate limiter strategy and the standard resilience handler of
/// Microsoft.Extensions.Http.Resilience. Each "app" has its own client and limiter; the silo holds the one budget they share.
/// </summary>
public sealed class RateLimiterConsumerTests(KestrelSilo silo) : IClassFixture<KestrelSilo>, IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly HttpClient _admin = silo.CreateClient();
    private readonly List<IAsyncDisposable> _apps = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
            await app.DisposeAsync();
        _admin.Dispose();
    }

    private OrleansQueueClient NewClient(string app)
    {
        var client = new OrleansQueueClient(new OrleansQueueClientOptions { BaseAddress = silo.BaseAddress, ClientId = app });
        _apps.Add(client);
        return client;
    }

    /// <summary>An ASP.NET Core app whose every request is limited cluster-wide by the queue, partitioned by route.</summary>
    private async Task<HttpClient> WebApp(string name, string resource, TimeSpan maxWait, Func<HttpContext, Task>? endpoint = null)
    {
        var client = NewClient(name);
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = OrleansQueueRateLimiter.CreatePartitioned<HttpContext>(client,
                context => new OrleansQueuePartition(resource, ClientId: context.Request.Headers["X-User"].FirstOrDefault()), maxWait);
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
                return ValueTask.CompletedTask;
            };
        });
        var app = builder.Build();
        app.UseRateLimiter();
        app.MapGet("/work", endpoint ?? (context => context.Response.WriteAsync("done")));
        await app.StartAsync();
        _apps.Add(app);
        return app.GetTestClient();
    }

    [Fact]
    public async Task AspNetCoreMiddleware_TwoAppsShareOneClusterWideLimitAndRejectWith429AndRetryAfter()
    {
        await _admin.CreateResource("rl-web", """{"requestsPerWindow":2,"windowMs":60000}""");
        var appA = await WebApp("app-a", "rl-web", maxWait: TimeSpan.Zero);
        var appB = await WebApp("app-b", "rl-web", maxWait: TimeSpan.Zero);

        Assert.Equal(HttpStatusCode.OK, (await appA.GetAsync("/work")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await appB.GetAsync("/work")).StatusCode);
        using var refused = await appA.GetAsync("/work"); // the window's two requests went, one through each app

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.InRange(int.Parse(refused.Headers.GetValues("Retry-After").Single()), 1, 60);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await appB.GetAsync("/work")).StatusCode);
    }

    [Fact]
    public async Task AspNetCoreMiddleware_ARequestWaitsInTheQueueWhileTheOtherAppHoldsTheSlot()
    {
        await _admin.CreateResource("rl-web-wait", """{"maxConcurrent":1}""");
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var appA = await WebApp("app-a", "rl-web-wait", Generous, async context =>
        {
            entered.TrySetResult();
            await gate.Task;
            await context.Response.WriteAsync("a");
        });
        var appB = await WebApp("app-b", "rl-web-wait", Generous);

        var holding = appA.GetAsync("/work");
        await entered.Task.WaitAsync(Generous);
        var waiting = appB.GetAsync("/work");
        var observer = NewClient("observer");
        await Eventually.True(async () => (await observer.GetStatsAsync("rl-web-wait")).Waiting == 1);
        Assert.False(waiting.IsCompleted);

        gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await holding.WaitAsync(Generous)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiting.WaitAsync(Generous)).StatusCode);
    }

    [Fact]
    public async Task PollyRateLimiterStrategy_ARefusalIsRateLimiterRejectedExceptionWithRetryAfter()
    {
        await _admin.CreateResource("rl-polly", """{"requestsPerWindow":1,"windowMs":60000}""");
        using var limiter = new OrleansQueueRateLimiter(NewClient("polly"), "rl-polly", new() { MaxWait = TimeSpan.Zero });
        var pipeline = new ResiliencePipelineBuilder().AddRateLimiter(limiter).Build();

        int ran = 0;
        await pipeline.ExecuteAsync(_ => { ran++; return ValueTask.CompletedTask; });
        var refused = await Assert.ThrowsAsync<RateLimiterRejectedException>(async () =>
            await pipeline.ExecuteAsync(_ => { ran++; return ValueTask.CompletedTask; }));

        Assert.Equal(1, ran);
        Assert.NotNull(refused.RetryAfter);
        Assert.InRange(refused.RetryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task StandardResilienceHandler_TwoAppsHttpClientsNeverExceedTheSharedConcurrency()
    {
        await _admin.CreateResource("rl-http", """{"maxConcurrent":2}""");
        var upstream = new CountingUpstream();
        var clients = new List<HttpClient>();
        foreach (string app in new[] { "http-a", "http-b" })
        {
            var limiter = new OrleansQueueRateLimiter(NewClient(app), "rl-http", new() { MaxWait = Generous });
            var services = new ServiceCollection();
            services.AddHttpClient("upstream", c => c.BaseAddress = new Uri("http://upstream.invalid/"))
                .ConfigurePrimaryHttpMessageHandler(() => upstream)
                .AddStandardResilienceHandler(o => o.RateLimiter.RateLimiter = args => limiter.AcquireAsync(1, args.Context.CancellationToken));
            var provider = services.BuildServiceProvider();
            _apps.Add(provider);
            clients.Add(provider.GetRequiredService<IHttpClientFactory>().CreateClient("upstream"));
        }

        var calls = clients.SelectMany(client => Enumerable.Range(0, 10).Select(_ => client.GetAsync("v1/chat"))).ToList();
        var answers = await Task.WhenAll(calls).WaitAsync(Generous);

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(20, upstream.Calls);
        Assert.InRange(upstream.MostAtOnce, 1, 2); // never a third at once, across both apps
    }

    /// <summary>An upstream that takes a little while per call and counts how many calls it had at once.</summary>
    private sealed class CountingUpstream : HttpMessageHandler
    {
        private int _inFlight, _most, _calls;

        public int MostAtOnce => _most;
        public int Calls => _calls;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            int now = Interlocked.Increment(ref _inFlight);
            Interlocked.Increment(ref _calls);
            int most;
            while ((most = Volatile.Read(ref _most)) < now && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }
            try
            {
                await Task.Delay(20, cancellationToken); // the upstream's own latency, so that calls overlap
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") };
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        protected override void Dispose(bool disposing)
        {
            // Shared by the two apps' handler chains: it outlives each.
        }
    }
}
