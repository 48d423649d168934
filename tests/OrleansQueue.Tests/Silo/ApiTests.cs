using System.Net;
using System.Text.Json;

namespace OrleansQueue.Tests.Silo;

public sealed class ApiTests(SiloFactory factory) : IClassFixture<SiloFactory>
{
    private readonly HttpClient _http = factory.CreateClient();

    [Fact]
    public async Task AResourceIsCreatedReadListedUpdatedAndDeleted()
    {
        var created = await _http.Put("/v1/resources/crud", """{"maxConcurrent":3,"loadPerWindow":90000,"windowMs":60000,"pushEnabled":false}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(90000, created.Body.GetProperty("policy").GetProperty("loadPerWindow").GetInt64());

        var read = await _http.Get("/v1/resources/crud");
        Assert.False(read.Body.GetProperty("pushEnabled").GetBoolean());
        Assert.Contains((await _http.Get("/v1/resources")).Body.EnumerateArray(), r => r.GetProperty("name").GetString() == "crud");

        var updated = await _http.Put("/v1/resources/crud", """{"maxConcurrent":5}""");
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal(5, (await _http.Get("/v1/resources/crud")).Body.GetProperty("policy").GetProperty("maxConcurrent").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await _http.Delete("/v1/resources/crud")).Status);
        (await _http.Get("/v1/resources/crud")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource", "resource");
    }

    [Fact]
    public async Task AcquireGrantsALeaseAtOnceThenQueuesWithAPositionAndReleaseHandsOver()
    {
        await _http.CreateResource("handover");
        var first = await _http.Post("/v1/resources/handover/acquire", """{"clientId":"a","load":5}""");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("held", first.Body.State());
        Assert.Equal(1, first.Body.GetProperty("fencingToken").GetInt64());

        var second = await _http.Post("/v1/resources/handover/acquire", """{"clientId":"b","priority":"high"}""");
        Assert.Equal(HttpStatusCode.Accepted, second.Status);
        Assert.Equal("waiting", second.Body.State());
        Assert.Equal(1, second.Body.GetProperty("position").GetInt32());
        long ticket = second.Body.GetProperty("id").GetInt64();

        var released = await _http.Post($"/v1/resources/handover/requests/{first.Body.GetProperty("id").GetInt64()}/release");
        Assert.Equal("released", released.Body.State());

        var polled = await _http.Get($"/v1/resources/handover/requests/{ticket}");
        Assert.Equal("held", polled.Body.State()); // learning of the grant by polling claims it
        Assert.Equal(2, polled.Body.GetProperty("fencingToken").GetInt64());
    }

    [Fact]
    public async Task ALongPollAnswersWhenTheTicketIsGranted()
    {
        await _http.CreateResource("longpoll");
        long held = await _http.Acquire("longpoll", "{}", "held");
        long ticket = await _http.Acquire("longpoll", "{}", "waiting");

        var waiting = _http.Get($"/v1/resources/longpoll/requests/{ticket}/wait?timeoutMs=30000");
        await _http.Post($"/v1/resources/longpoll/requests/{held}/release");

        var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("held", answer.Body.State());
    }

    [Fact]
    public async Task ALongPollThatRunsOutAnswersStillWaiting()
    {
        await _http.CreateResource("longpoll-timeout");
        await _http.Acquire("longpoll-timeout", "{}", "held");
        long ticket = await _http.Acquire("longpoll-timeout", "{}", "waiting");

        var answer = await _http.Get($"/v1/resources/longpoll-timeout/requests/{ticket}/wait?timeoutMs=1");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("waiting", answer.Body.State());
    }

    [Fact]
    public async Task ReleaseWithActualLoadCorrectsTheWindowBudget()
    {
        await _http.CreateResource("actual", """{"loadPerWindow":1000}""");
        long id = await _http.Acquire("actual", """{"load":800}""", "held");
        await _http.Post($"/v1/resources/actual/requests/{id}/release", """{"actualLoad":300}""");

        var stats = await _http.Get("/v1/resources/actual/stats");

        Assert.Equal(700, stats.Body.GetProperty("loadLeftInWindow").GetInt64());
        Assert.Equal(1, stats.Body.GetProperty("released").GetInt64());
    }

    [Fact]
    public async Task RenewExtendsALeaseAndCancelRemovesATicket()
    {
        await _http.CreateResource("renew-cancel", """{"maxConcurrent":1,"leaseTtlMs":60000}""");
        long held = await _http.Acquire("renew-cancel", "{}", "held");
        long ticket = await _http.Acquire("renew-cancel", "{}", "waiting");

        var renewed = await _http.Post($"/v1/resources/renew-cancel/requests/{held}/renew");
        Assert.Equal("held", renewed.Body.State());

        var cancelled = await _http.Delete($"/v1/resources/renew-cancel/requests/{ticket}");
        Assert.Equal("cancelled", cancelled.Body.State());
        Assert.Equal("cancelled", (await _http.Get($"/v1/resources/renew-cancel/requests/{ticket}")).Body.State());
        Assert.Equal(0, (await _http.Get("/v1/resources/renew-cancel/stats")).Body.GetProperty("waiting").GetInt32());
    }

    [Fact]
    public async Task AnAcquireRetriedWithItsIdempotencyKeyAnswersTheSameTicketAndCountsOnce()
    {
        await _http.CreateResource("idempotent");
        await _http.Acquire("idempotent", "{}", "held");
        var first = await _http.Post("/v1/resources/idempotent/acquire", """{"clientId":"c","idempotencyKey":"order-17"}""");
        var retry = await _http.Post("/v1/resources/idempotent/acquire", """{"clientId":"c","idempotencyKey":"order-17"}""");

        Assert.Equal(first.Body.GetProperty("id").GetInt64(), retry.Body.GetProperty("id").GetInt64());
        Assert.Equal(1, (await _http.Get("/v1/resources/idempotent/stats")).Body.GetProperty("waiting").GetInt32());
    }

    [Fact]
    public async Task AReleaseRetriedWithItsIdempotencyKeyAnswersReleasedAgain()
    {
        await _http.CreateResource("idempotent-release");
        long id = await _http.Acquire("idempotent-release", "{}", "held");
        var first = await _http.Post($"/v1/resources/idempotent-release/requests/{id}/release", """{"idempotencyKey":"r1"}""");
        var retry = await _http.Post($"/v1/resources/idempotent-release/requests/{id}/release", """{"idempotencyKey":"r1"}""");
        var unkeyed = await _http.Post($"/v1/resources/idempotent-release/requests/{id}/release");

        Assert.Equal("released", first.Body.State());
        Assert.Equal("released", retry.Body.State());
        unkeyed.AssertProblem(HttpStatusCode.Gone, "request-ended", "id");
    }

    [Fact]
    public async Task AWaitThatRunsOutIsReportedAsTimedOutWhenPolled()
    {
        await _http.CreateResource("timeout", """{"maxConcurrent":1}""");
        await _http.Acquire("timeout", "{}", "held");
        long ticket = await _http.Acquire("timeout", """{"maxWaitMs":1}""", "waiting");

        var answer = await _http.Get($"/v1/resources/timeout/requests/{ticket}/wait?timeoutMs=20000");

        Assert.Equal("timedOut", answer.Body.State());
        Assert.Equal("timedOut", answer.Body.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ARequestThatMayNotWaitIsRefusedWith429AndRetryAfter()
    {
        await _http.CreateResource("no-wait", """{"requestsPerWindow":1,"windowMs":30000}""");
        await _http.Acquire("no-wait", "{}", "held");

        using var response = await _http.PostAsync("/v1/resources/no-wait/acquire", new StringContent("""{"maxWaitMs":0}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 29, 30);
    }

    [Fact]
    public async Task AFullWaitlistAndAClientOverQuotaAreRefusedWithTypedProblems()
    {
        await _http.CreateResource("full", """{"maxConcurrent":1,"maxQueueLength":2,"maxQueuedPerClient":1}""");
        await _http.Acquire("full", "{}", "held");
        await _http.Acquire("full", """{"clientId":"x"}""", "waiting");
        (await _http.Post("/v1/resources/full/acquire", """{"clientId":"x"}""")).AssertProblem(HttpStatusCode.TooManyRequests, "client-quota", "clientId");
        await _http.Acquire("full", """{"clientId":"y"}""", "waiting");
        (await _http.Post("/v1/resources/full/acquire", """{"clientId":"z"}""")).AssertProblem(HttpStatusCode.TooManyRequests, "queue-full");
    }

    [Fact]
    public async Task RequestsOfAPollingOnlyResourceHaveNoEventStream()
    {
        await _http.CreateResource("polling-only", """{"maxConcurrent":1,"pushEnabled":false}""");
        await _http.Acquire("polling-only", "{}", "held");
        long ticket = await _http.Acquire("polling-only", "{}", "waiting");

        (await _http.Get($"/v1/resources/polling-only/requests/{ticket}/events")).AssertProblem(HttpStatusCode.Conflict, "push-disabled");
        Assert.Equal("waiting", (await _http.Get($"/v1/resources/polling-only/requests/{ticket}")).Body.State());
    }

    [Fact]
    public async Task DeletingAResourceRefusesItsWaitingRequests()
    {
        await _http.CreateResource("doomed");
        await _http.Acquire("doomed", "{}", "held");
        await _http.Acquire("doomed", "{}", "waiting");

        Assert.Equal(HttpStatusCode.NoContent, (await _http.Delete("/v1/resources/doomed")).Status);

        (await _http.Post("/v1/resources/doomed/acquire", "{}")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource", "resource");
        (await _http.Delete("/v1/resources/doomed")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource");
    }

    [Fact]
    public async Task HealthMetricsAndTheOpenApiDocumentAreServed()
    {
        await _http.CreateResource("observed");
        await _http.Acquire("observed", "{}", "held");

        var health = await _http.GetStringAsync("/healthz");
        var metrics = await _http.GetStringAsync("/metrics");
        var openApi = JsonDocument.Parse(await _http.GetStringAsync("/openapi/v1.json")).RootElement;

        Assert.Equal("Healthy", health);
        Assert.Equal(1, PrometheusText.Value(metrics, "orleansqueue_grants_total", "observed"));
        Assert.Equal(0, PrometheusText.Value(metrics, "orleansqueue_queue_depth", "observed"));
        Assert.Contains("orleans_", metrics); // Orleans' own meters are there too
        Assert.Contains("orleansqueue_store_commit_seconds_count", metrics);
        Assert.Contains("orleansqueue_wait_seconds_bucket", metrics);
        var paths = openApi.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/v1/resources/{resource}/acquire", out var acquire));
        Assert.True(acquire.GetProperty("post").TryGetProperty("requestBody", out _));
    }

    [Fact]
    public async Task TheOpenApiDocumentDeclaresTheKeysAndAProblemSchemaThatRealProblemsFit()
    {
        var openApi = JsonDocument.Parse(await _http.GetStringAsync("/openapi/v1.json")).RootElement;
        var schemes = openApi.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal(("apiKey", "header", "X-Api-Key"), (schemes.GetProperty("apiKey").GetProperty("type").GetString(),
            schemes.GetProperty("apiKey").GetProperty("in").GetString(), schemes.GetProperty("apiKey").GetProperty("name").GetString()));
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.Equal(2, openApi.GetProperty("security").GetArrayLength());

        // A real 429 problem, and the schema the document gives for the acquire's 429.
        await _http.CreateResource("documented", """{"maxConcurrent":1,"maxQueueLength":1}""");
        await _http.Acquire("documented", "{}", "held");
        await _http.Acquire("documented", "{}", "waiting");
        var refused = await _http.Post("/v1/resources/documented/acquire", "{}");
        var schema = Resolve(openApi, openApi.GetProperty("paths").GetProperty("/v1/resources/{resource}/acquire").GetProperty("post")
            .GetProperty("responses").GetProperty("429").GetProperty("content").GetProperty("application/problem+json").GetProperty("schema"));
        var properties = schema.GetProperty("properties");
        foreach (var member in refused.Body.EnumerateObject())
            Assert.True(properties.TryGetProperty(member.Name, out _) || !schema.TryGetProperty("additionalProperties", out var extra) || extra.ValueKind != JsonValueKind.False,
                $"the problem member \"{member.Name}\" is not allowed by the document's schema");
        Assert.True(properties.TryGetProperty("field", out _) && properties.TryGetProperty("retryAfterMs", out _));
        Assert.False(schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.False);
    }

    private static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        if (!schema.TryGetProperty("$ref", out var reference))
            return schema;
        var node = document;
        foreach (string part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            node = node.GetProperty(part);
        return node;
    }
}
