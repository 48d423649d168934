using System.Net;
using System.Text;

namespace OrleansQueue.Tests.Silo;

public sealed class BadInputTests(SiloFactory factory) : IClassFixture<SiloFactory>, IAsyncLifetime
{
    private readonly HttpClient _http = factory.CreateClient();

    public async Task InitializeAsync()
    {
        var (status, _) = await _http.Put("/v1/resources/strict", """{"maxConcurrent":1,"loadPerWindow":1000}""");
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("""{"load":""", "invalid-json", null)]
    [InlineData("""{"load":"lots"}""", "invalid-json", "load")]
    [InlineData("""{"lode":5}""", "invalid-json", "lode")]
    [InlineData("""{"load":-5}""", "invalid-load", "load")]
    [InlineData("""{"load":0}""", "invalid-load", "load")]
    [InlineData("""{"load":1001}""", "invalid-load", "load")]
    [InlineData("""{"load":99999999999999999999}""", "invalid-json", "load")]
    [InlineData("""{"priority":"urgent"}""", "invalid-json", "priority")]
    [InlineData("""{"priority":9}""", "invalid-json", "priority")]
    [InlineData("""{"priority":"high "}""", "invalid-json", "priority")]
    [InlineData("""{"priority":" high"}""", "invalid-json", "priority")]
    [InlineData("""{"priority":"1"}""", "invalid-json", "priority")]
    [InlineData("""{"load":"5"}""", "invalid-json", "load")]
    [InlineData("""{"maxWaitMs":"100"}""", "invalid-json", "maxWaitMs")]
    [InlineData("""{"clientId":5}""", "invalid-json", "clientId")]
    [InlineData("""{"clientId":"a\u0000b"}""", "invalid-request", "clientId")]
    [InlineData("""{"clientId":"a\nb"}""", "invalid-request", "clientId")]
    [InlineData("""{"clientId":"evil\u202Etxt.exe"}""", "invalid-request", "clientId")]
    [InlineData("""{"idempotencyKey":"k\u0000"}""", "invalid-request", "idempotencyKey")]
    [InlineData("""{"idempotencyKey":"k\u200Bk"}""", "invalid-request", "idempotencyKey")]
    [InlineData("""{"maxWaitMs":-1}""", "invalid-request", "maxWaitMs")]
    [InlineData("""{"maxWaitMs":3600000}""", "invalid-request", "maxWaitMs")]
    [InlineData("""{"clientId":""}""", "invalid-request", "clientId")]
    [InlineData("""{"idempotencyKey":""}""", "invalid-request", "idempotencyKey")]
    [InlineData("""[1,2]""", "invalid-json", null)]
    public async Task ABadAcquireIsRefusedWithAProblemNamingTheFieldAndNothingIsAccepted(string body, string type, string? field)
    {
        var response = await _http.Post("/v1/resources/strict/acquire", body);

        response.AssertProblem(HttpStatusCode.BadRequest, type, field);
        string detail = response.Body.GetProperty("detail").GetString()!;
        Assert.DoesNotContain("System.", detail); // the API's words, never .NET type names
        Assert.DoesNotContain("OrleansQueue.", detail);
        var stats = await _http.Get("/v1/resources/strict/stats");
        Assert.Equal(0, stats.Body.GetProperty("leases").GetInt32());
    }

    [Fact]
    public async Task AnOverlongUrlOrOversizedHeadersAreRefusedWithAProblem()
    {
        (await _http.Get("/v1/resources/strict?pad=" + new string('x', 9_000))).AssertProblem(HttpStatusCode.RequestUriTooLong, "uri-too-long", "url");

        using var big = new HttpRequestMessage(HttpMethod.Get, "/v1/resources/strict");
        big.Headers.Add("X-Padding", new string('x', 33_000));
        var answer = await _http.SendAsync(big);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, answer.StatusCode);
        Assert.Contains("headers-too-large", await answer.Content.ReadAsStringAsync());

        using var many = new HttpRequestMessage(HttpMethod.Get, "/v1/resources/strict");
        for (int i = 0; i < 120; i++)
            many.Headers.Add($"X-Header-{i}", "v");
        var refused = await _http.SendAsync(many);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task AnOversizedBodyIsRefusedWith413()
    {
        string huge = "{\"clientId\":\"" + new string('x', 5000) + "\"}";
        (await _http.Post("/v1/resources/strict/acquire", huge)).AssertProblem(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task UnknownResourcesAndRequestsAreRefusedWith404()
    {
        (await _http.Post("/v1/resources/nowhere/acquire", "{}")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource", "resource");
        (await _http.Get("/v1/resources/nowhere/stats")).AssertProblem(HttpStatusCode.NotFound, "unknown-resource");
        (await _http.Get("/v1/resources/strict/requests/424242")).AssertProblem(HttpStatusCode.NotFound, "unknown-request", "id");
        (await _http.Post("/v1/resources/strict/requests/424242/release")).AssertProblem(HttpStatusCode.NotFound, "unknown-request", "id");
        (await _http.Post("/v1/resources/bad name!/acquire", "{}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "resource");
    }

    [Fact]
    public async Task ReleasingAWaitingTicketIsAConflictAndKeepsItWaiting()
    {
        await _http.Put("/v1/resources/conflict", """{"maxConcurrent":1}""");
        await _http.Acquire("conflict", "{}", "held");
        long ticket = await _http.Acquire("conflict", "{}", "waiting");

        (await _http.Post($"/v1/resources/conflict/requests/{ticket}/release")).AssertProblem(HttpStatusCode.Conflict, "not-granted", "id");
        (await _http.Post($"/v1/resources/conflict/requests/{ticket}/renew")).AssertProblem(HttpStatusCode.Conflict, "not-granted", "id");
        Assert.Equal("waiting", (await _http.Get($"/v1/resources/conflict/requests/{ticket}")).Body.State());
    }

    [Theory]
    [InlineData("""{"maxConcurrent":0}""", "maxConcurrent")]
    [InlineData("""{"windowMs":0}""", "windowMs")]
    [InlineData("""{"windowMs":-5}""", "windowMs")]
    [InlineData("""{"claimWindowMs":120000,"leaseTtlMs":60000}""", "claimWindowMs")]
    [InlineData("""{"defaultMaxWaitMs":700000}""", "defaultMaxWaitMs")]
    [InlineData("""{"maxConcurent":3}""", "maxConcurent")]
    public async Task AnInvalidPolicyIsRefusedNamingTheFieldAndTheOldOneStays(string body, string field)
    {
        var response = await _http.Put("/v1/resources/strict", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(field, response.Body.GetProperty("field").GetString());
        var read = await _http.Get("/v1/resources/strict");
        Assert.Equal(1000, read.Body.GetProperty("policy").GetProperty("loadPerWindow").GetInt64());
    }

    [Fact]
    public async Task AnInvalidResourceNameIsRefusedOnCreate()
    {
        (await _http.Put("/v1/resources/-starts-badly", "{}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "resource");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("3600001")]
    public async Task ALongPollTimeoutOutOfRangeIsRefused(string timeout)
    {
        (await _http.Get($"/v1/resources/strict/requests/1/wait?timeoutMs={timeout}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-request", "timeoutMs");
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded")] // curl -d without -H
    [InlineData("text/plain")]
    [InlineData("multipart/form-data; boundary=x")]
    public async Task ABodyThatIsNotSentAsJsonIsRefusedWith415(string contentType)
    {
        var content = new StringContent("""{"clientId":"curl"}""", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await _http.PostAsync("/v1/resources/strict/acquire", content);

        var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        ((response.StatusCode, body)).AssertProblem(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type", "Content-Type");
        Assert.Equal(0, (await _http.Get("/v1/resources/strict/stats")).Body.GetProperty("leases").GetInt32());
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/problem+json")]
    [InlineData(null)]
    public async Task AJsonBodyIsReadWhateverItsJsonTypeOrWithNoTypeAtAll(string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"clientId":"typed","maxWaitMs":0}"""));
        if (contentType is not null)
            content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await _http.PostAsync("/v1/resources/strict/acquire", content);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, await response.Content.ReadAsStringAsync());
        if (response.IsSuccessStatusCode)
        {
            var lease = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            await _http.Post($"/v1/resources/strict/requests/{lease.GetProperty("id").GetInt64()}/release");
        }
    }

    [Theory]
    [InlineData("/v1/resources/strict/stats?apiKey=secret", "apiKey")]
    [InlineData("/v1/resources/strict/stats?api_key=secret", "api_key")]
    [InlineData("/v1/resources/strict/requests/1/events?APIKEY=secret", "APIKEY")]
    public async Task AnApiKeyInTheUrlIsRefused(string url, string parameter)
    {
        (await _http.Get(url)).AssertProblem(HttpStatusCode.BadRequest, "api-key-in-url", parameter);
    }

    [Fact]
    public async Task ADurationOfTheWrongTypeSaysItIsMillisecondsAndTheRootPointsToTheDashboardAndTheApi()
    {
        var wrong = await _http.Post("/v1/resources/strict/acquire", """{"maxWaitMs":"30s"}""");
        wrong.AssertProblem(HttpStatusCode.BadRequest, "invalid-json", "maxWaitMs");
        Assert.Equal("maxWaitMs: must be a whole number of milliseconds: a JSON integer such as 30000 (not a string, not a fraction).",
            wrong.Body.GetProperty("detail").GetString());

        var root = await _http.Get("/");
        root.AssertProblem(HttpStatusCode.NotFound, "not-found");
        Assert.Contains("/dashboard", root.Body.GetProperty("detail").GetString());
        Assert.DoesNotContain("id in the path", root.Body.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("GET", "/v2/nothing", HttpStatusCode.NotFound, "not-found")]
    [InlineData("GET", "/v1/resources/strict/requests/abc", HttpStatusCode.NotFound, "not-found")]
    [InlineData("PATCH", "/v1/resources/strict", HttpStatusCode.MethodNotAllowed, "method-not-allowed")]
    [InlineData("GET", "/v1/resources/strict/requests/1/wait?timeoutMs=soon", HttpStatusCode.BadRequest, "invalid-request")]
    public async Task EveryRefusalBeforeAnEndpointRunsIsAProblemToo(string method, string url, HttpStatusCode status, string type)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("urn:orleansqueue:problem:" + type, body.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("detail").GetString()));
    }
}
