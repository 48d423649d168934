using System.Net;

namespace OrleansQueue.Tests.Silo;

/// <summary>On real Kestrel, whose own limits on the request line and headers answer with no body: the silo's limits are
/// lower, so a request somewhat over them gets the silo's problem; only one far over them meets Kestrel's bare refusal.</summary>
public sealed class RequestSizeTests(KestrelSilo silo) : IClassFixture<KestrelSilo>
{
    [Fact]
    public async Task AUrlOverTheSilosLimitGetsAProblemAndOnlyOneFarOverKestrelsGetsABareRefusal()
    {
        using var http = silo.CreateClient();
        var (status, body) = await http.Get("/v1/resources?pad=" + new string('x', 20_000));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, status);
        Assert.EndsWith("uri-too-long", body.GetProperty("type").GetString());
        Assert.Equal("url", body.GetProperty("field").GetString());

        using var far = await http.GetAsync("/v1/resources?pad=" + new string('x', 70_000));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, far.StatusCode);
        Assert.Empty(await far.Content.ReadAsByteArrayAsync()); // Kestrel's own, past 64 KiB: documented
    }

    [Fact]
    public async Task HeadersOverTheSilosLimitGetAProblem()
    {
        using var http = silo.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/resources");
        request.Headers.Add("X-Padding", new string('x', 40_000));
        using var answer = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, answer.StatusCode);
        Assert.Contains("headers-too-large", await answer.Content.ReadAsStringAsync());
    }
}
