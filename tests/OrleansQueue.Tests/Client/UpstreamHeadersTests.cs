using System.Net;
using OrleansQueue.Client;
using OrleansQueue.Contracts;

namespace OrleansQueue.Tests.Client;

/// <summary>The .NET SDK reads both providers' rate-limit headers, and leaves out what makes no sense.</summary>
public sealed class UpstreamHeadersTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static UpstreamBody Parse(int status, params (string Name, string Value)[] headers) =>
        UpstreamHeaders.Parse(status, headers.Select(h => new KeyValuePair<string, IEnumerable<string>>(h.Name, [h.Value])), Now);

    /// <summary>The cases of tests/shared/upstream-headers.json, which the Python SDK's tests run too.</summary>
    public static TheoryData<string> SharedCases() => [.. SharedTable().GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(SharedCases))]
    public void EverySharedCaseIsReadAsThePythonSdkReadsIt(string name)
    {
        var table = SharedTable();
        var now = DateTimeOffset.Parse(table.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var c = table.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var headers = c.GetProperty("headers").EnumerateArray()
            .Select(h => new KeyValuePair<string, IEnumerable<string>>(h[0].GetString()!, [h[1].GetString()!]));

        var report = UpstreamHeaders.Parse(c.GetProperty("status").GetInt32(), headers, now);

        var expected = System.Text.Json.JsonSerializer.Deserialize<UpstreamBody>(c.GetProperty("expect"), new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
        Assert.Equal(expected with { Requests = null, Load = null }, report with { Requests = null, Load = null });
        Assert.Equal(expected.Requests, report.Requests);
        Assert.Equal(expected.Load, report.Load);
    }

    private static System.Text.Json.JsonElement SharedTable()
    {
        string path = Path.Combine(Examples.QueueInYourAppTests.RepositoryRoot(), "tests", "shared", "upstream-headers.json");
        return System.Text.Json.JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
    }

    [Fact]
    public void OpenAIsHeadersWithDurationsAsResets()
    {
        var report = Parse(200,
            ("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "9999"), ("x-ratelimit-reset-requests", "6ms"),
            ("x-ratelimit-limit-tokens", "2000000"), ("x-ratelimit-remaining-tokens", "1999100"), ("x-ratelimit-reset-tokens", "6m0s"));
        Assert.Equal(200, report.Status);
        Assert.Equal(new UpstreamBudgetBody(10000, 9999, 6), report.Requests);
        Assert.Equal(new UpstreamBudgetBody(2_000_000, 1_999_100, 360_000), report.Load);
        Assert.Null(report.RetryAfterMs);
    }

    [Fact]
    public void OpenAIs429WithRetryAfterInSecondsOrMilliseconds()
    {
        var report = Parse(429, ("retry-after", "20"), ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "1m30.5s"));
        Assert.Equal(429, report.Status);
        Assert.Equal(20_000, report.RetryAfterMs);
        Assert.Equal(90_500, report.Requests!.ResetMs);
        Assert.Equal(0, report.Requests.Remaining);
        Assert.Equal(1_250, Parse(429, ("Retry-After-Ms", "1250"), ("Retry-After", "9")).RetryAfterMs); // the finer one wins
        Assert.Equal(30_000, Parse(503, ("retry-after", Now.AddSeconds(30).ToString("r"))).RetryAfterMs); // an HTTP date
    }

    [Fact]
    public void AnthropicsHeadersWithTimesAsResets()
    {
        var report = Parse(200,
            ("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-12-06T12:00:01Z"),
            ("anthropic-ratelimit-tokens-limit", "80000"), ("anthropic-ratelimit-tokens-remaining", "79000"),
            ("anthropic-ratelimit-tokens-reset", "2026-12-06T12:00:12.500Z"));
        Assert.Equal(new UpstreamBudgetBody(50, 49, 1_000), report.Requests);
        Assert.Equal(new UpstreamBudgetBody(80_000, 79_000, 12_500), report.Load);
    }

    [Fact]
    public void AnthropicsSeparateInputAndOutputTokensGiveTheTighterOne()
    {
        var report = Parse(429, ("retry-after", "7"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"), ("anthropic-ratelimit-input-tokens-remaining", "30000"),
            ("anthropic-ratelimit-input-tokens-reset", "2026-12-06T12:00:05Z"),
            ("anthropic-ratelimit-output-tokens-limit", "8000"), ("anthropic-ratelimit-output-tokens-remaining", "0"),
            ("anthropic-ratelimit-output-tokens-reset", "2026-12-06T12:00:07Z"));
        Assert.Equal(new UpstreamBudgetBody(8000, 0, 7_000), report.Load);
        Assert.Equal(7_000, report.RetryAfterMs);
    }

    [Fact]
    public void AzuresMinusOneAndZeroAndMalformedFiguresAreLeftOut()
    {
        var report = Parse(200, ("x-ratelimit-limit-requests", "0"), ("x-ratelimit-remaining-requests", "-1"),
            ("x-ratelimit-remaining-tokens", "lots"), ("x-ratelimit-reset-tokens", "soon"), ("retry-after", "-5"));
        Assert.Null(report.Requests);
        Assert.Null(report.Load);
        Assert.Null(report.RetryAfterMs); // a negative retry-after is nonsense
        Assert.Equal(0, Parse(429, ("retry-after", Now.AddSeconds(-30).ToString("r"))).RetryAfterMs); // a date passed: no wait
        Assert.Null(Parse(200, ("retry-after", "tomorrow")).RetryAfterMs);
        Assert.Null(Parse(200, ("x-ratelimit-remaining-requests", "500"), ("x-ratelimit-limit-requests", "100")).Requests!.Remaining);
        Assert.Null(Parse(200, ("retry-after", "9999999")).RetryAfterMs); // beyond a day: nonsense
        Assert.Null(Parse(99).Status);
    }

    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("6m0s", 360_000)]
    [InlineData("20ms", 20)]
    [InlineData("1h2m3.5s", 3_723_500)]
    [InlineData("0.5s", 500)]
    public void DurationsAsOpenAIWritesThem(string text, double ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), UpstreamHeaders.ParseDuration(text));

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("m5")]
    [InlineData("1.2.3s")]
    public void WhatIsNotADurationIsNone(string text) => Assert.Null(UpstreamHeaders.ParseDuration(text));

    [Fact]
    public void AResponseMessagesHeadersAndContentHeadersAreRead()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests) { Content = new StringContent("{}") };
        response.Headers.Add("x-ratelimit-remaining-tokens", "0");
        response.Headers.Add("x-ratelimit-reset-tokens", "2s");
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(3));
        var report = UpstreamHeaders.Parse(response, Now);
        Assert.Equal(429, report.Status);
        Assert.Equal(3_000, report.RetryAfterMs);
        Assert.Equal(new UpstreamBudgetBody(null, 0, 2_000), report.Load);
    }
}
