using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansQueue.Tests.Silo;

namespace OrleansQueue.Tests.Dashboard;

/// <summary>What the dashboard reads from the silo, under each kind of key; and the gate in front of Orleans' dashboard.</summary>
public sealed class DashboardApiTests(SiloWithKeysFixture fixture) : IClassFixture<SiloWithKeysFixture>
{
    private readonly HttpClient _admin = fixture.Factory.ClientWithKey(SiloFactory.AdminKey);
    private readonly HttpClient _a = fixture.Factory.ClientWithKey(SiloFactory.TenantAKey);
    private readonly HttpClient _b = fixture.Factory.ClientWithKey(SiloFactory.TenantBKey);

    [Fact]
    public async Task AResourcesDetailShowsATenantOnlyItsOwnClientsAndTheResourcesTotals()
    {
        await _admin.CreateResource("detail-tenants", """{"maxConcurrent":1}""");
        await _b.Acquire("detail-tenants", """{"clientId":"b-secret"}""", "held");
        await _a.Acquire("detail-tenants", """{"clientId":"a-mine","priority":"high"}""", "waiting");
        Assert.Equal(HttpStatusCode.Accepted, (await _b.Post("/v1/resources/detail-tenants/jobs", """{"payload":1,"clientId":"b-job"}""")).Status);

        var (status, mine) = await _a.Get("/v1/resources/detail-tenants/detail");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("b-secret", mine.GetRawText());
        Assert.DoesNotContain("b-job", mine.GetRawText());
        Assert.DoesNotContain("a:", mine.GetRawText()); // no internal, tenant-prefixed ids either
        Assert.Equal(0, mine.GetProperty("leases").GetArrayLength());
        Assert.Equal(0, mine.GetProperty("jobs").GetArrayLength());
        Assert.Equal(1, mine.GetProperty("stats").GetProperty("leases").GetInt32()); // the totals stay
        Assert.Equal(1, mine.GetProperty("stats").GetProperty("waitingByClient").GetProperty("a-mine").GetInt32());

        var (_, all) = await _admin.Get("/v1/resources/detail-tenants/detail");
        var lease = Assert.Single(all.GetProperty("leases").EnumerateArray());
        Assert.Equal("b:b-secret", lease.GetProperty("clientId").GetString());
        Assert.True(lease.GetProperty("claimed").GetBoolean());
        Assert.Equal("b:b-job", Assert.Single(all.GetProperty("jobs").EnumerateArray()).GetProperty("clientId").GetString());
        Assert.Contains(all.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "granted");
        Assert.Equal(72, all.GetProperty("timeline").GetArrayLength());
        Assert.Equal(5000, all.GetProperty("timelineBucketMs").GetInt64());
    }

    [Fact]
    public async Task TheFeedSendsEveryResourceAndTheOneAskedAboutWithoutAnotherTenantsClients()
    {
        await _admin.CreateResource("feed-tenants", """{"maxConcurrent":1}""");
        await _b.Acquire("feed-tenants", """{"clientId":"b-hidden"}""", "held");
        await _b.Acquire("feed-tenants", """{"clientId":"b-hidden-too"}""", "waiting");

        var events = await ReadFeed(_a, "/v1/dashboard/feed?resource=feed-tenants", "overview", "detail");

        var row = events["overview"].GetProperty("resources").EnumerateArray().Single(r => r.GetProperty("resource").GetProperty("name").GetString() == "feed-tenants");
        Assert.Equal(1, row.GetProperty("stats").GetProperty("waiting").GetInt32());
        Assert.Equal(1, events["detail"].GetProperty("stats").GetProperty("leases").GetInt32());
        Assert.DoesNotContain("b-hidden", events["overview"].GetRawText());
        Assert.DoesNotContain("b-hidden", events["detail"].GetRawText());

        var gone = await ReadFeed(_a, "/v1/dashboard/feed?resource=feed-no-such-resource", "problem");
        Assert.EndsWith("unknown-resource", gone["problem"].GetProperty("type").GetString());
        (await _a.Get("/v1/dashboard/feed?resource=not%20a%20name")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource");
    }

    [Fact]
    public async Task OrleansOwnDashboardOpensOnlyToAnAdmin()
    {
        var anonymous = fixture.Factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true });
        (await anonymous.Get("/orleans/")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");
        (await _a.Get("/orleans/")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");

        // A tenant's session is answered without the cookie.
        var tenantSession = await _a.PostAsync("/v1/dashboard/session", null);
        Assert.Equal("""{"tenant":"a","admin":false}""", await tenantSession.Content.ReadAsStringAsync());
        Assert.False(tenantSession.Headers.Contains("Set-Cookie"));

        var browser = fixture.Factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true });
        string issued;
        using (var session = new HttpRequestMessage(HttpMethod.Post, "/v1/dashboard/session"))
        {
            session.Headers.Add("X-Api-Key", SiloFactory.AdminKey);
            var answer = await browser.SendAsync(session);
            Assert.Equal("""{"tenant":"ops","admin":true,"orleansDashboard":"/orleans/"}""", await answer.Content.ReadAsStringAsync());
            string cookie = Assert.Single(answer.Headers.GetValues("Set-Cookie"));
            Assert.Contains("path=/orleans", cookie);
            Assert.Contains("httponly", cookie);
            Assert.Contains("samesite=strict", cookie);
            issued = cookie.Split(';')[0]["oq-orleans=".Length..];
        }
        // The cookie opens /orleans (and nothing else: /v1 still wants the key).
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/orleans/")).StatusCode);
        (await browser.Get("/v1/resources")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync("/orleans/")).StatusCode);

        // The cookie as issued opens it; the same with a later expiry (not what this silo signed) does not.
        Assert.Equal(HttpStatusCode.OK, (await WithCookie(issued).GetAsync("/orleans/")).StatusCode);
        string[] parts = issued.Split('.');
        string extended = (long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) + 86_400) + "." + parts[1];
        (await WithCookie(extended).Get("/orleans/")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");
        (await WithCookie("99999999999.00").Get("/orleans/")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");

        HttpClient WithCookie(string value)
        {
            var client = fixture.Factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
            client.DefaultRequestHeaders.Add("Cookie", "oq-orleans=" + value);
            return client;
        }
    }

    [Fact]
    public async Task ThePageIsServedFromTheSiloWithoutAKeyAndWithAStrictContentPolicy()
    {
        var anonymous = fixture.Factory.CreateClient();
        foreach (var (path, type) in new[] { ("/dashboard", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/app.css", "text/css") })
        {
            var answer = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(type, answer.Content.Headers.ContentType!.MediaType);
            Assert.Contains("script-src 'self'", answer.Headers.GetValues("Content-Security-Policy").Single());
        }
        // Its script and stylesheet are named beside it (relative), so the page works wherever the gateway is mounted.
        Assert.Contains("src=\"dashboard/app.js\"", await anonymous.GetStringAsync("/dashboard"));
        (await anonymous.Get("/dashboard/secrets.json")).AssertProblem(HttpStatusCode.NotFound, "not-found");
    }

    /// <summary>Reads the feed until it has sent each of <paramref name="names"/> once; the last of each kind is kept.</summary>
    private static async Task<Dictionary<string, JsonElement>> ReadFeed(HttpClient client, string path, params string[] names)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var seen = new Dictionary<string, JsonElement>();
        string? name = null;
        while (!names.All(seen.ContainsKey) && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
                name = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && name is not null)
                seen[name] = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
        }
        return seen;
    }
}
