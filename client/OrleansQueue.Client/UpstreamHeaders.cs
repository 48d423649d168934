using OrleansQueue.Contracts;

namespace OrleansQueue.Client;

/// <summary>
/// Reads what an upstream said about its rate limits from its response: OpenAI's (and Azure OpenAI's)
/// <c>x-ratelimit-limit|remaining|reset-requests|tokens</c>, with resets as durations such as <c>6m0s</c> or <c>20ms</c>;
/// Anthropic's <c>anthropic-ratelimit-requests|tokens|input-tokens|output-tokens-limit|remaining|reset</c>, with resets as
/// RFC 3339 times; the IETF's RateLimit fields (draft-ietf-httpapi-ratelimit-headers: <c>RateLimit-Policy</c> and
/// <c>RateLimit</c> as lists of named policies with <c>q</c>, <c>w</c>, <c>r</c>, <c>t</c>, the tightest one read; the older
/// <c>RateLimit: limit=…, remaining=…, reset=…</c>, and <c>RateLimit-Limit|Remaining|Reset</c>), as a request budget
/// unless a policy counts another unit; and <c>retry-after</c> (seconds or an HTTP date) or <c>retry-after-ms</c>. A figure
/// that is missing, negative (Azure's <c>-1</c>), a limit of 0, or unparsable is left out rather than guessed.
/// </summary>
public static class UpstreamHeaders
{
    /// <summary>The report of <paramref name="response"/>, read at <paramref name="now"/> (default: the machine's clock).</summary>
    public static UpstreamBody Parse(HttpResponseMessage response, DateTimeOffset? now = null) => UpstreamHeaderParser.Parse(response, now);

    /// <summary>The report of a response with <paramref name="status"/> and <paramref name="headers"/> (names in any case).</summary>
    public static UpstreamBody Parse(int status, IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers, DateTimeOffset? now = null) =>
        UpstreamHeaderParser.Parse(status, headers, now);

    /// <summary>A duration as OpenAI writes it: <c>1s</c>, <c>6m0s</c>, <c>1h2m3.5s</c>, <c>20ms</c>; null when it is not one.</summary>
    public static TimeSpan? ParseDuration(string? text) => UpstreamHeaderParser.ParseDuration(text);
}
