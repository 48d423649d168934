using System.Net;

namespace OrleansQueue.Tests.Silo;

public sealed class TenantTests(SiloWithKeysFixture fixture) : IClassFixture<SiloWithKeysFixture>
{
    private readonly HttpClient _admin = fixture.Factory.ClientWithKey(SiloFactory.AdminKey);
    private readonly HttpClient _a = fixture.Factory.ClientWithKey(SiloFactory.TenantAKey);
    private readonly HttpClient _b = fixture.Factory.ClientWithKey(SiloFactory.TenantBKey);

    [Fact]
    public async Task WithoutAValidKeyEveryCallIsRefusedWith401()
    {
        var anonymous = fixture.Factory.CreateClient();
        (await anonymous.Get("/v1/resources")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");
        (await fixture.Factory.ClientWithKey("not-a-real-key-at-all").Get("/v1/resources")).AssertProblem(HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task ATenantCannotFillAResourcesWaitlistWithManyClientIds()
    {
        await _admin.CreateResource("tenant-quota", """{"maxConcurrent":1,"maxQueuedPerTenant":2,"defaultMaxWaitMs":600000}""");
        await _b.Acquire("tenant-quota", """{"clientId":"holder"}""", "held");
        await _a.Acquire("tenant-quota", """{"clientId":"a1"}""", "waiting");
        await _a.Acquire("tenant-quota", """{"clientId":"a2"}""", "waiting");

        var refused = await _a.Post("/v1/resources/tenant-quota/acquire", """{"clientId":"a3"}""");

        refused.AssertProblem(HttpStatusCode.TooManyRequests, "tenant-quota");
        Assert.DoesNotContain("a:", refused.Body.GetProperty("detail").GetString()); // no internal, tenant-prefixed ids
        await _b.Acquire("tenant-quota", """{"clientId":"b1"}""", "waiting"); // another tenant still queues
        Assert.Equal(2, (await _admin.Get("/v1/resources/tenant-quota")).Body.GetProperty("policy").GetProperty("maxQueuedPerTenant").GetInt32());
    }

    [Fact]
    public async Task OnlyAnAdminKeyManagesResources()
    {
        (await _a.Put("/v1/resources/tenants-admin", "{}")).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        (await _a.Delete("/v1/resources/tenants-admin")).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        await _admin.CreateResource("tenants-admin");
        Assert.Equal(HttpStatusCode.OK, (await _a.Get("/v1/resources/tenants-admin")).Status);
    }

    [Fact]
    public async Task ATenantSeesAndTouchesOnlyItsOwnRequests()
    {
        await _admin.CreateResource("shared");
        long aLease = await _a.Acquire("shared", """{"clientId":"worker"}""", "held");
        long aTicket = await _a.Acquire("shared", """{"clientId":"worker"}""", "waiting");

        (await _b.Get($"/v1/resources/shared/requests/{aTicket}")).AssertProblem(HttpStatusCode.NotFound, "unknown-request");
        (await _b.Post($"/v1/resources/shared/requests/{aLease}/release")).AssertProblem(HttpStatusCode.NotFound, "unknown-request");
        (await _b.Delete($"/v1/resources/shared/requests/{aTicket}")).AssertProblem(HttpStatusCode.NotFound, "unknown-request");
        (await _b.Post($"/v1/resources/shared/requests/{aLease}/renew")).AssertProblem(HttpStatusCode.NotFound, "unknown-request");

        var own = await _a.Get($"/v1/resources/shared/requests/{aTicket}");
        Assert.Equal("waiting", own.Body.State());
        Assert.Equal("worker", own.Body.GetProperty("clientId").GetString());
        Assert.Equal("held", (await _a.Get($"/v1/resources/shared/requests/{aLease}")).Body.State());
    }

    [Fact]
    public async Task TenantsWithTheSameClientIdAreDifferentClients()
    {
        await _admin.CreateResource("same-client", """{"maxConcurrent":1,"maxQueuedPerClient":1}""");
        await _a.Acquire("same-client", """{"clientId":"app"}""", "held");
        await _a.Acquire("same-client", """{"clientId":"app"}""", "waiting");
        await _b.Acquire("same-client", """{"clientId":"app"}""", "waiting");

        var stats = await _b.Get("/v1/resources/same-client/stats");
        var byClient = stats.Body.GetProperty("waitingByClient");
        Assert.Equal(1, byClient.GetProperty("app").GetInt32());
        Assert.Single(byClient.EnumerateObject());
        Assert.Equal(2, (await _admin.Get("/v1/resources/same-client/stats")).Body.GetProperty("waitingByClient").EnumerateObject().Count());
    }
}
