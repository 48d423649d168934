using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Dashboard;

/// <summary>
/// A silo on a real socket with an admin key and two tenants' keys, which counts the HTTP calls that ask where a request
/// stands (status and long-poll), per resource: what a client that cannot be pushed to does instead.
/// </summary>
public sealed class DashboardSilo : KestrelSilo
{
    private readonly ConcurrentDictionary<string, int> _statusCalls = new();

    public int StatusCalls(string resource) => _statusCalls.GetValueOrDefault(resource);

    public HttpClient ClientWithKey(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    protected override IEnumerable<string> Settings =>
    [
        "--Silo:ApiKeys:0:Key", SiloFactory.AdminKey, "--Silo:ApiKeys:0:Tenant", "ops", "--Silo:ApiKeys:0:Admin", "true",
        "--Silo:ApiKeys:1:Key", SiloFactory.TenantAKey, "--Silo:ApiKeys:1:Tenant", "a",
        "--Silo:ApiKeys:2:Key", SiloFactory.TenantBKey, "--Silo:ApiKeys:2:Tenant", "b",
    ];

    protected override void BeforeSilo(WebApplication app) => app.Use(async (context, next) =>
    {
        // GET /v1/resources/{resource}/requests/{id} and …/{id}/wait
        var segments = context.Request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (context.Request.Method == "GET" && segments is ["v1", "resources", var resource, "requests", _, ..] && (segments.Length == 5 || segments[5] == "wait"))
            _statusCalls.AddOrUpdate(resource, 1, (_, n) => n + 1);
        await next(context);
    });
}

/// <summary>
/// Debian's chromium, driven by Playwright, once for the whole test class (each test has a page of its own). No browser is
/// downloaded: the tests need the <c>chromium</c> package, which <c>.ci/run</c> installs.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = null!;

    /// <summary>Where each test's screenshots go: beside the test assembly.</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"The browser tests drive Debian's chromium at {ChromiumPath}: install the chromium package (.ci/run does).");
        Directory.CreateDirectory(ScreenshotDirectory);
        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Instance is not null)
            await Instance.DisposeAsync();
        _playwright?.Dispose();
    }
}
