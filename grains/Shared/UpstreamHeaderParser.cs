using System.Globalization;
using OrleansQueue.Contracts;

namespace OrleansQueue;

/// <summary>
/// Reads what an upstream said about its rate limits from its response: OpenAI's (and Azure OpenAI's)
/// <c>x-ratelimit-limit|remaining|reset-requests|tokens</c>, with resets as durations such as <c>6m0s</c> or <c>20ms</c>;
/// Anthropic's <c>anthropic-ratelimit-requests|tokens|input-tokens|output-tokens-limit|remaining|reset</c>, with resets as
/// RFC 3339 times; the IETF's RateLimit fields (draft-ietf-httpapi-ratelimit-headers: <c>RateLimit-Policy</c> and
/// <c>RateLimit</c> as lists of named policies with <c>q</c>, <c>w</c>, <c>r</c>, <c>t</c>, the tightest one read; the older
/// <c>RateLimit: limit=…, remaining=…, reset=…</c>, and <c>RateLimit-Limit|Remaining|Reset</c>), as a request budget
/// unless a policy counts another unit; and <c>retry-after</c> (seconds or an HTTP date) or <c>retry-after-ms</c>. A figure
/// that is missing, negative (Azure's <c>-1</c>), a limit of 0, or unparsable is left out rather than guessed.
/// One source, compiled into the .NET client (behind its public <c>UpstreamHeaders</c>) and the gateway (its proxy).
/// </summary>
internal static class UpstreamHeaderParser
{
    /// <summary>The report of <paramref name="response"/>, read at <paramref name="now"/> (default: the machine's clock).</summary>
    public static UpstreamBody Parse(HttpResponseMessage response, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var headers = response.Headers.Concat(response.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>());
        return Parse((int)response.StatusCode, headers, now);
    }

    /// <summary>The report of a response with <paramref name="status"/> and <paramref name="headers"/> (names in any case).</summary>
    public static UpstreamBody Parse(int status, IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var at = now ?? DateTimeOffset.UtcNow;
        var h = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in headers)
        {
            if (values.FirstOrDefault() is { } value)
                h[name] = value.Trim();
        }
        var requests = Budget(h, at, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
            ?? Budget(h, at, "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset")
            ?? IetfBudget(h);
        var load = Budget(h, at, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
            ?? Budget(h, at, "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset")
            ?? Tighter(Budget(h, at, "anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
                Budget(h, at, "anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"));
        return new UpstreamBody(status is >= 100 and <= 599 ? status : null, RetryAfterMs(h, at), requests, load);
    }

    /// <summary>A duration as OpenAI writes it: <c>1s</c>, <c>6m0s</c>, <c>1h2m3.5s</c>, <c>20ms</c>; null when it is not one.</summary>
    public static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        double ms = 0;
        int i = 0;
        text = text.Trim();
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                i++;
            if (i == start || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n))
                return null;
            int unit = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
                i++;
            ms += text[unit..i] switch
            {
                "h" => n * 3_600_000,
                "m" => n * 60_000,
                "s" => n * 1_000,
                "ms" => n,
                _ => double.NaN,
            };
            if (double.IsNaN(ms))
                return null;
        }
        return TimeSpan.FromMilliseconds(ms);
    }

    private static UpstreamBudgetBody? Budget(Dictionary<string, string> h, DateTimeOffset now, string limitName, string remainingName, string resetName)
    {
        long? limit = Count(h.GetValueOrDefault(limitName));
        long? remaining = Count(h.GetValueOrDefault(remainingName));
        if (limit == 0)
            limit = null; // Azure OpenAI: 0 where it has no figure
        if (limit is { } l && remaining > l)
            remaining = null;
        long? resetMs = h.GetValueOrDefault(resetName) is { } reset ? ResetMs(reset, now) : null;
        return limit is null && remaining is null && resetMs is null ? null : new UpstreamBudgetBody(limit, remaining, resetMs);
    }

    /// <summary>
    /// The IETF's fields: <c>RateLimit: "name";r=remaining;t=seconds</c> beside <c>RateLimit-Policy: "name";q=quota;w=seconds</c>
    /// (the policy with the least remaining when several are named, one counting another unit than requests left out);
    /// or the older <c>RateLimit: limit=…, remaining=…, reset=…</c>; or <c>RateLimit-Limit</c>, <c>-Remaining</c>, <c>-Reset</c>.
    /// </summary>
    private static UpstreamBudgetBody? IetfBudget(Dictionary<string, string> h)
    {
        if (h.GetValueOrDefault("ratelimit") is { } field)
        {
            var members = StructuredList(field);
            if (members.Count > 0 && members.All(m => m.Item is "limit" or "remaining" or "reset" && m.Parameters.Count == 0 && m.Value is not null))
            {
                var d = members.ToDictionary(m => m.Item, m => m.Value);
                return Ietf(Count(d.GetValueOrDefault("limit")), Count(d.GetValueOrDefault("remaining")), Count(d.GetValueOrDefault("reset")));
            }
            var policies = StructuredList(h.GetValueOrDefault("ratelimit-policy") ?? "").ToDictionary(p => p.Item, p => p.Parameters);
            UpstreamBudgetBody? tightest = null;
            foreach (var member in members)
            {
                var policy = policies.GetValueOrDefault(member.Item);
                if (policy?.GetValueOrDefault("qu") is { } unit && unit != "requests")
                    continue;
                tightest = Tighter(tightest, Ietf(Count(policy?.GetValueOrDefault("q")), Count(member.Parameters.GetValueOrDefault("r")),
                    Count(member.Parameters.GetValueOrDefault("t"))));
            }
            return tightest;
        }
        return Ietf(Count(h.GetValueOrDefault("ratelimit-limit")), Count(h.GetValueOrDefault("ratelimit-remaining")), Count(h.GetValueOrDefault("ratelimit-reset")));
    }

    private static UpstreamBudgetBody? Ietf(long? limit, long? remaining, long? resetSeconds)
    {
        if (limit == 0)
            limit = null;
        if (limit is { } l && remaining > l)
            remaining = null;
        long? resetMs = resetSeconds is { } seconds ? Clamp(seconds * 1000.0) : null;
        return limit is null && remaining is null && resetMs is null ? null : new UpstreamBudgetBody(limit, remaining, resetMs);
    }

    /// <summary>
    /// A structured-field list or dictionary (RFC 8941), as far as rate-limit fields use it: members split at commas, each an
    /// item (a token or a quoted string, unquoted) or a <c>key=value</c>, then <c>;key=value</c> parameters (quotes dropped).
    /// </summary>
    private static List<(string Item, string? Value, Dictionary<string, string> Parameters)> StructuredList(string field)
    {
        var members = new List<(string, string?, Dictionary<string, string>)>();
        foreach (string member in field.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = member.Split(';', StringSplitOptions.TrimEntries);
            var (item, value) = KeyValue(parts[0]);
            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string parameter in parts.Skip(1))
            {
                var (key, v) = KeyValue(parameter);
                if (key.Length > 0)
                    parameters[key] = v ?? "?1";
            }
            if (item.Length > 0)
                members.Add((item, value, parameters));
        }
        return members;

        static (string, string?) KeyValue(string text)
        {
            int eq = text.IndexOf('=');
            return eq < 0 ? (text.Trim('"'), null) : (text[..eq].Trim(), text[(eq + 1)..].Trim().Trim('"'));
        }
    }

    /// <summary>Of two budgets, the one with less remaining (for Anthropic's separate input and output tokens).</summary>
    private static UpstreamBudgetBody? Tighter(UpstreamBudgetBody? a, UpstreamBudgetBody? b) =>
        a is null ? b : b is null ? a : (b.Remaining ?? long.MaxValue) < (a.Remaining ?? long.MaxValue) ? b : a;

    private static long? Count(string? text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;

    /// <summary>A reset as a duration (OpenAI), a time (Anthropic, RFC 3339), or seconds; in milliseconds from <paramref name="now"/>.</summary>
    private static long? ResetMs(string text, DateTimeOffset now)
    {
        if (ParseDuration(text) is { } duration)
            return Clamp(duration.TotalMilliseconds);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && text.Contains('T'))
            return Clamp((at - now).TotalMilliseconds);
        return null;
    }

    private static long? RetryAfterMs(Dictionary<string, string> h, DateTimeOffset now)
    {
        if (h.GetValueOrDefault("retry-after-ms") is { } ms && double.TryParse(ms, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double m))
            return Clamp(m);
        if (h.GetValueOrDefault("retry-after") is not { } after)
            return null;
        if (double.TryParse(after, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds))
            return Clamp(seconds * 1000);
        return DateTimeOffset.TryParseExact(after, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            ? Clamp((date - now).TotalMilliseconds)
            : null;
    }

    /// <summary>Durations within what the silo takes (0 to a day); a time already passed is 0, nonsense is left out.</summary>
    private static long? Clamp(double ms) => double.IsFinite(ms) && ms <= Validation.MaxWaitMs ? (long)Math.Ceiling(Math.Max(0, ms)) : null;
}
