using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using OrleansQueue.Client;
using OrleansQueue.Tests.Silo;
using static Microsoft.Playwright.Assertions;

namespace OrleansQueue.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's chromium through Playwright) against a real silo: what it shows follows the
/// API without a reload, what it changes the API then answers, and a tenant's key shows that tenant only. Each test saves a
/// screenshot under the test output's <c>screenshots</c> folder.
/// </summary>
public sealed class DashboardBrowserTests(DashboardSilo silo, Browser browser) : IClassFixture<DashboardSilo>, IClassFixture<Browser>, IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly HttpClient _admin = silo.ClientWithKey(SiloFactory.AdminKey);
    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<string> _pageErrors = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
            await context.DisposeAsync();
        _admin.Dispose();
        // A script error in the page fails the test that caused it, whatever it asserted.
        Assert.Empty(_pageErrors);
    }

    [Fact]
    public async Task TheOverviewListsResourcesAndItsCountsFollowAcquiresAndReleasesWithoutAReload()
    {
        await _admin.CreateResource("dash-overview", """{"maxConcurrent":1,"requestsPerWindow":100,"windowMs":60000}""");
        var page = await SignIn(SiloFactory.AdminKey);
        var row = page.Locator("tr[data-resource='dash-overview']");
        await Expect(row.Locator("td.leases")).ToHaveTextAsync("0");
        await Expect(row.Locator("td.limits")).ToHaveTextAsync("1 at once, 100 req / 1 min");

        long held = await _admin.Acquire("dash-overview", """{"clientId":"alice"}""", "held");
        await Expect(row.Locator("td.leases")).ToHaveTextAsync("1");
        long waiting = await _admin.Acquire("dash-overview", """{"clientId":"bob"}""", "waiting");
        await Expect(row.Locator("td.waiting")).ToHaveTextAsync("1");
        await Expect(row.Locator(".budget [aria-label=requests]")).ToHaveAttributeAsync("aria-valuenow", "1");
        await Screenshot(page, "overview");

        Assert.Equal(HttpStatusCode.OK, (await _admin.Post($"/v1/resources/dash-overview/requests/{held}/release", "{}")).Status);
        await Expect(row.Locator("td.waiting")).ToHaveTextAsync("0");
        await Expect(row.Locator(".budget [aria-label=requests]")).ToHaveAttributeAsync("aria-valuenow", "2");
        Assert.Equal(HttpStatusCode.OK, (await _admin.Delete($"/v1/resources/dash-overview/requests/{waiting}")).Status);
        await Expect(row.Locator("td.leases")).ToHaveTextAsync("0");
    }

    [Fact]
    public async Task TheResourcePageShowsWaitingLeasesEventsAndJobs()
    {
        await _admin.CreateResource("dash-detail", """{"maxConcurrent":1,"maxQueuedPerClient":1}""");
        await _admin.Acquire("dash-detail", """{"clientId":"holder","load":3}""", "held");
        await _admin.Acquire("dash-detail", """{"clientId":"patient","priority":"low"}""", "waiting");
        (await _admin.Post("/v1/resources/dash-detail/acquire", """{"clientId":"patient"}""")).AssertProblem(HttpStatusCode.TooManyRequests, "client-quota");
        var job = await _admin.Post("/v1/resources/dash-detail/jobs", """{"payload":{"n":1},"clientId":"batch"}""");
        Assert.Equal(HttpStatusCode.Accepted, job.Status);

        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-detail");
        await Expect(page.Locator("#resource-name")).ToHaveTextAsync("dash-detail");
        await Expect(page.Locator("#stat-waiting")).ToHaveTextAsync("1");
        await Expect(page.Locator("#leases tbody tr")).ToHaveCountAsync(1);
        await Expect(page.Locator("#leases tbody tr td.client")).ToHaveTextAsync("ops:holder");
        await Expect(page.Locator("#waiting-chart")).ToContainTextAsync("low 1");
        await Expect(page.Locator("#waiting-chart")).ToContainTextAsync("ops:patient 1");
        await Expect(page.Locator("#events li.rejected")).ToContainTextAsync("client quota exceeded");
        await Expect(page.Locator("#events li.granted")).ToContainTextAsync("ops:holder · load 3");
        await Expect(page.Locator("#timeline-chart")).ToContainTextAsync("Granted 1");

        await page.Locator($"#jobs tr[data-job='{job.Body.GetProperty("id").GetInt64()}']").ClickAsync();
        await Expect(page.Locator("#job-detail")).ToContainTextAsync("ops:batch");
        await Expect(page.Locator("#job-detail")).ToContainTextAsync("Statequeued");
        await Screenshot(page, "resource");
    }

    [Fact]
    public async Task EditingALimitInThePageChangesThePolicyTheApiReturns()
    {
        await _admin.CreateResource("dash-edit", """{"maxConcurrent":2,"requestsPerWindow":50}""");
        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-edit");
        var field = page.Locator("#policy-maxConcurrent");
        await Expect(field).ToHaveValueAsync("2");

        await field.FillAsync("7");
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-status")).ToHaveTextAsync("Saved");

        var policy = (await _admin.Get("/v1/resources/dash-edit")).Body.GetProperty("policy");
        Assert.Equal(7, policy.GetProperty("maxConcurrent").GetInt32());
        Assert.Equal(50, policy.GetProperty("requestsPerWindow").GetInt64()); // the rest of the policy is kept
        await Expect(page.Locator("#stat-budget")).ToContainTextAsync("0 / 7");
    }

    [Fact]
    public async Task ABadLimitShowsTheSilosMessageBesideItsFieldAndChangesNothing()
    {
        await _admin.CreateResource("dash-bad", """{"maxConcurrent":2}""");
        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-bad");
        await Expect(page.Locator("#policy-maxConcurrent")).ToHaveValueAsync("2");

        // Not a number: the page refuses it itself.
        await page.Locator("#policy-leaseTtlMs").FillAsync("soon");
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-form [data-error-for=leaseTtlMs]")).ToContainTextAsync("whole number");
        await Expect(page.Locator("#policy-leaseTtlMs")).ToHaveAttributeAsync("aria-invalid", "true");
        await page.Locator("#policy-leaseTtlMs").FillAsync("60000");

        // A number the silo refuses: its message, beside the field it names.
        await page.Locator("#policy-maxConcurrent").FillAsync("0");
        await page.Locator("#save-policy").ClickAsync();
        var error = page.Locator("#policy-form [data-error-for=maxConcurrent]");
        await Expect(error).ToContainTextAsync("maxConcurrent must be at least 1 when set; it is 0.");
        await Expect(page.Locator("#policy-form [data-error-for=leaseTtlMs]")).ToHaveTextAsync("");
        await Expect(page.Locator("#policy-maxConcurrent")).ToBeFocusedAsync();
        await Screenshot(page, "bad-limit");

        var policy = (await _admin.Get("/v1/resources/dash-bad")).Body.GetProperty("policy");
        Assert.Equal(2, policy.GetProperty("maxConcurrent").GetInt32());
    }

    [Fact]
    public async Task SwitchingAResourceToPollingOnlyMakesTheClientPollWithItsCodeUnchanged()
    {
        await _admin.CreateResource("dash-switch", """{"maxConcurrent":1}""");
        await using var client = new OrleansQueueClient(new OrleansQueueClientOptions
        {
            BaseAddress = silo.BaseAddress, ApiKey = SiloFactory.AdminKey, ClientId = "switch",
        });

        // The calling code, run once with push and once after the page switched it off.
        async Task WaitBehindAHolder()
        {
            var held = await client.AcquireAsync("dash-switch");
            var waiting = client.AcquireAsync("dash-switch");
            await WaitUntil(async () => (await _admin.Get("/v1/resources/dash-switch/stats")).Body.GetProperty("waiting").GetInt32() == 1);
            await held.DisposeAsync();
            await using var lease = await waiting.WaitAsync(Generous);
        }

        await WaitBehindAHolder();
        Assert.Equal(0, silo.StatusCalls("dash-switch"));

        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-switch");
        await Expect(page.Locator("#push-enabled")).ToBeCheckedAsync();
        await page.Locator("#push-enabled").UncheckAsync();
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-status")).ToHaveTextAsync("Saved");
        await Expect(page.Locator("#resource-mode")).ToHaveTextAsync("polling only");
        Assert.False((await _admin.Get("/v1/resources/dash-switch")).Body.GetProperty("pushEnabled").GetBoolean());

        await WaitBehindAHolder();
        Assert.True(silo.StatusCalls("dash-switch") > 0, "the client was granted without asking where its request stood");
        await Screenshot(page, "polling-only");
    }

    [Fact]
    public async Task AnAdaptiveResourceShowsItsPauseAndWorkingLimitsAndThePageKeepsItsWholePolicy()
    {
        await _admin.CreateResource("dash-adaptive", """{"maxConcurrent":10,"adaptive":"aimd","clientWeights":{"batch":2},"minShares":{"background":0.1}}""");
        long held = await _admin.Acquire("dash-adaptive", """{"clientId":"caller"}""", "held");
        Assert.Equal(HttpStatusCode.OK, (await _admin.Post($"/v1/resources/dash-adaptive/requests/{held}/report", """{"status":429,"retryAfterMs":600000}""")).Status);

        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-adaptive");
        await Expect(page.Locator("#upstream-state")).ToContainTextAsync("No grant until");
        await Expect(page.Locator("#upstream-state")).ToContainTextAsync("7 of 10 at once (70%)");
        await Expect(page.Locator("#events li.throttled")).ToContainTextAsync("429");
        await Expect(page.Locator("#policy-adaptive")).ToHaveValueAsync("aimd");
        await Expect(page.Locator("#policy-clientWeights")).ToHaveValueAsync("batch=2");
        await Screenshot(page, "adaptive");

        // Saving one field keeps the rest of the policy: adaptive, weights and shares included.
        await page.Locator("#policy-maxConcurrent").FillAsync("12");
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-status")).ToHaveTextAsync("Saved");
        var policy = (await _admin.Get("/v1/resources/dash-adaptive")).Body.GetProperty("policy");
        Assert.Equal(12, policy.GetProperty("maxConcurrent").GetInt32());
        Assert.Equal("aimd", policy.GetProperty("adaptive").GetString());
        Assert.Equal(2, policy.GetProperty("clientWeights").GetProperty("batch").GetInt32());
        Assert.Equal(0.1, policy.GetProperty("minShares").GetProperty("background").GetDouble());

        await page.Locator("#policy-clientWeights").FillAsync("batch=heavy");
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-form [data-error-for=clientWeights]")).ToContainTextAsync("name=value pairs");
        await page.Locator("#policy-clientWeights").FillAsync("batch=0");
        await page.Locator("#save-policy").ClickAsync();
        await Expect(page.Locator("#policy-form [data-error-for=clientWeights]")).ToContainTextAsync("weights from 1 to 100"); // the silo's rule
    }

    [Fact]
    public async Task ATenantKeySeesNoAdminControlsAndNoOtherTenantsClients()
    {
        await _admin.CreateResource("dash-tenants", """{"maxConcurrent":1}""");
        using var tenantA = silo.ClientWithKey(SiloFactory.TenantAKey);
        using var tenantB = silo.ClientWithKey(SiloFactory.TenantBKey);
        await tenantB.Acquire("dash-tenants", """{"clientId":"b-secret-client"}""", "held");
        await tenantA.Acquire("dash-tenants", """{"clientId":"a-visible-client"}""", "waiting");
        await tenantB.Acquire("dash-tenants", """{"clientId":"b-other-secret"}""", "waiting");

        var page = await SignIn(SiloFactory.TenantAKey, "#/resources/dash-tenants");
        await Expect(page.Locator("#who")).ToHaveTextAsync("tenant a");
        await Expect(page.Locator("#waiting-chart")).ToContainTextAsync("a-visible-client 1");
        await Expect(page.Locator("#stat-waiting")).ToHaveTextAsync("2"); // the resource's total stays
        await Expect(page.Locator("#policy-form")).ToBeHiddenAsync();
        await Expect(page.Locator("#delete-resource")).ToBeHiddenAsync();
        await Expect(page.Locator("#orleans-link")).ToBeHiddenAsync();
        await Expect(page.Locator("#leases-empty")).ToHaveTextAsync("1 lease held, none by your clients."); // the lease is b's
        await Expect(page.Locator("#waiting-chart")).ToContainTextAsync("other tenants' clients 1");
        Assert.DoesNotContain("b-secret-client", await page.ContentAsync());
        Assert.DoesNotContain("b-other-secret", await page.ContentAsync());
        await Screenshot(page, "tenant");

        await page.Locator("a.back").ClickAsync();
        await Expect(page.Locator("tr[data-resource='dash-tenants'] td.waiting")).ToHaveTextAsync("2");
        await Expect(page.Locator("#create-form")).ToBeHiddenAsync();
        Assert.DoesNotContain("b-secret-client", await page.ContentAsync());
    }

    [Fact]
    public async Task AnAdminCreatesAndDeletesAResourceFromThePageAfterConfirming()
    {
        var page = await SignIn(SiloFactory.AdminKey);
        await page.Locator("#create-name").FillAsync("dash-created");
        await page.Locator("#create-maxConcurrent").FillAsync("3");
        await page.Locator("#create-form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#resource-name")).ToHaveTextAsync("dash-created");
        Assert.Equal(3, (await _admin.Get("/v1/resources/dash-created")).Body.GetProperty("policy").GetProperty("maxConcurrent").GetInt32());

        await page.Locator("#delete-resource").ClickAsync();
        await Expect(page.Locator("#confirm-delete")).ToBeVisibleAsync();
        await page.Locator("#confirm-delete button[value=cancel]").ClickAsync();
        Assert.Equal(HttpStatusCode.OK, (await _admin.Get("/v1/resources/dash-created")).Status);

        await page.Locator("#delete-resource").ClickAsync();
        await page.Locator("#confirm-delete-button").ClickAsync();
        await Expect(page.Locator("#overview")).ToBeVisibleAsync();
        await WaitUntil(async () => (await _admin.Get("/v1/resources/dash-created")).Status == HttpStatusCode.NotFound);
        await Expect(page.Locator("tr[data-resource='dash-created']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task ThePageSaysWhenItHasLostTheFeedAndComesBackWithIt()
    {
        var page = await SignIn(SiloFactory.AdminKey);
        // The silo's feed, replaced by one that sends a single overview and ends (a silo that went away).
        await page.RouteAsync("**/v1/dashboard/feed*", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200,
            ContentType = "text/event-stream",
            Body = "event: overview\ndata: {\"now\":\"2026-01-01T00:00:00Z\",\"resources\":[]}\n\n",
        }));
        await page.EvaluateAsync("location.hash = '#/resources/dash-gone'");
        await Expect(page.Locator("#feed-status")).ToContainTextAsync("Feed lost");
        await Expect(page.Locator("#feed-status")).ToHaveClassAsync("feed lost");
        await Screenshot(page, "feed-lost");

        await page.UnrouteAllAsync();
        await Expect(page.Locator("#feed-status")).ToHaveTextAsync("Live", new() { Timeout = 40_000 });
    }

    [Fact]
    public async Task AfterTheFeedRefusesTheKeySigningInAgainBringsThePageBackLive()
    {
        await _admin.CreateResource("dash-rekey", """{"maxConcurrent":2}""");
        await _admin.Acquire("dash-rekey", """{"clientId":"holder"}""", "held");
        var page = await SignIn(SiloFactory.AdminKey, "#/resources/dash-rekey");
        await Expect(page.Locator("#leases tbody tr")).ToHaveCountAsync(1);
        // The feed now refuses the key (as when it is taken out of the silo's configuration), seen at the next page.
        await page.RouteAsync("**/v1/dashboard/feed*", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 401,
            ContentType = "application/problem+json",
            Body = """{"status":401,"type":"urn:orleansqueue:problem:unauthorized","title":"An API key is required.","detail":"Send a valid key."}""",
        }));
        await page.EvaluateAsync("location.hash = '#/'");
        await Expect(page.Locator("#key-error")).ToHaveTextAsync("The key is no longer accepted.");
        await page.UnrouteAllAsync();

        await page.Locator("#api-key").FillAsync(SiloFactory.AdminKey);
        await page.Locator("#key-form button[type=submit]").ClickAsync();
        // Not the placeholders of a page whose feed was never opened again: live, with the figures.
        await Expect(page.Locator("#feed-status")).ToHaveTextAsync("Live");
        await Expect(page.Locator("tr[data-resource='dash-rekey'] td.leases")).ToHaveTextAsync("1");
        await page.EvaluateAsync("location.hash = '#/resources/dash-rekey'");
        await Expect(page.Locator("#leases tbody tr td.client")).ToHaveTextAsync("ops:holder");
    }

    [Fact]
    public async Task AWrongKeyIsRefusedAndTheKeyNeverGoesInAUrl()
    {
        var context = await NewContext();
        var page = await context.NewPageAsync();
        var urls = new List<string>();
        page.Request += (_, request) => urls.Add(request.Url);
        await page.GotoAsync(new Uri(silo.BaseAddress, "dashboard").ToString());
        await page.Locator("#api-key").FillAsync("not-a-key-of-this-silo");
        await page.Locator("#key-form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#key-error")).ToHaveTextAsync("That key is not accepted by this silo.");
        await Expect(page.Locator("#overview")).ToBeHiddenAsync();

        await page.Locator("#api-key").FillAsync(SiloFactory.AdminKey);
        await page.Locator("#api-key").PressAsync("Enter");
        await Expect(page.Locator("#feed-status")).ToHaveTextAsync("Live");
        Assert.DoesNotContain(urls, u => u.Contains(SiloFactory.AdminKey, StringComparison.Ordinal) || u.Contains("not-a-key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ThePageIsReadableAtAPhonesWidth()
    {
        await _admin.CreateResource("dash-phone", """{"maxConcurrent":4,"loadPerWindow":1000}""");
        var context = await NewContext(390, 844);
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(silo.BaseAddress, "dashboard").ToString());
        await page.Locator("#api-key").FillAsync(SiloFactory.AdminKey);
        await page.Locator("#api-key").PressAsync("Enter");
        var row = page.Locator("tr[data-resource='dash-phone']");
        await Expect(row.Locator("td.leases")).ToHaveTextAsync("0");
        // Rows become labelled cards: nothing wider than the screen.
        int scrollWidth = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"the page is {scrollWidth} px wide on a 390 px screen");
        await Screenshot(page, "phone");
    }

    [Fact]
    public async Task AtALaptopsWidthTheOverviewFitsAndShowsNoFigureItDoesNotHave()
    {
        // The widest row a resource makes: a long name, every limit, an adaptive badge; and nothing granted yet.
        await _admin.CreateResource("dash-laptop-with-a-rather-long-resource-name",
            """{"maxConcurrent":64,"requestsPerWindow":10000,"loadPerWindow":2000000,"windowMs":60000,"adaptive":"aimd"}""");
        await _admin.CreateResource("dash-laptop-done", """{"maxConcurrent":1}""");
        long job = (await _admin.Post("/v1/resources/dash-laptop-done/jobs", """{"payload":1}""")).Body.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.OK, (await _admin.Post("/v1/resources/dash-laptop-done/jobs/take", """{"workerId":"w"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await _admin.Post($"/v1/resources/dash-laptop-done/jobs/{job}/complete", """{"workerId":"w","result":1}""")).Status);

        var page = await SignIn(SiloFactory.AdminKey); // 1280 × 800
        var done = page.Locator("tr[data-resource='dash-laptop-done']");
        await Expect(done.Locator("td.jobs")).ToHaveTextAsync("1 completed");
        var wide = page.Locator("tr[data-resource='dash-laptop-with-a-rather-long-resource-name']");
        await Expect(wide.Locator("td.wait")).ToHaveTextAsync("– / –");
        await Expect(wide.Locator("td.jobs")).ToHaveTextAsync("none");

        // Every column on screen: the table does not scroll sideways, and the silo column ends inside the window.
        bool scrolls = await page.EvaluateAsync<bool>("(() => { const s = document.querySelector('#resources').parentElement; return s.scrollWidth > s.clientWidth; })()");
        var silo = await wide.Locator("td.silo").BoundingBoxAsync();
        await Screenshot(page, "laptop");
        Assert.False(scrolls, "the overview table scrolls sideways at 1280 px");
        Assert.True(silo is not null && silo.X + silo.Width <= 1280, $"the silo column ends at {silo?.X + silo?.Width} px of 1280");
    }

    private async Task<IBrowserContext> NewContext(int width = 1280, int height = 800)
    {
        var context = await browser.Instance.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        _contexts.Add(context);
        context.Page += (_, page) => page.PageError += (_, error) => _pageErrors.Add(error);
        return context;
    }

    /// <summary>Opens the dashboard, enters <paramref name="key"/> as a user would, and waits until the feed is live.</summary>
    private async Task<IPage> SignIn(string key, string hash = "#/")
    {
        var page = await (await NewContext()).NewPageAsync();
        await page.GotoAsync(new Uri(silo.BaseAddress, "dashboard" + hash).ToString());
        await page.Locator("#api-key").FillAsync(key);
        await page.Locator("#key-form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#feed-status")).ToHaveTextAsync("Live");
        return page;
    }

    private static async Task Screenshot(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, name + ".png"), FullPage = true });

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(20); // the API gives no event for these; its answers are the witness
        }
    }
}
