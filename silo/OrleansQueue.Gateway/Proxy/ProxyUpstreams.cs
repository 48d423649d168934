using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using OrleansQueue.Grains;
using OrleansQueue.Scheduling;

namespace OrleansQueue.Gateway.Proxy;

/// <summary>A resource's upstream as the proxy uses it: where calls go, the key they carry (read from the silo's configuration
/// or environment when the call is made, never stored or logged), and the resource's default wait.</summary>
internal sealed class ProxyUpstream(UpstreamEndpoint endpoint, string? key, ResourcePolicy policy)
{
    public string Provider => endpoint.Provider;

    public TimeSpan DefaultMaxWait => policy.DefaultMaxWait;

    /// <summary>The IETF RateLimit fields for the resource's budget (draft-ietf-httpapi-ratelimit-headers): its policies
    /// (<c>q</c> a window's quota, <c>w</c> the window in seconds) and what remains of each in this window (<c>r</c>).</summary>
    public void WriteRateLimit(IHeaderDictionary headers, StatsView stats)
    {
        long window = Math.Max(1, (long)Math.Ceiling(policy.Window.TotalSeconds));
        var policies = new List<string>();
        var remaining = new List<string>();
        if (policy.RequestsPerWindow is { } requests)
        {
            policies.Add($"\"requests\";q={requests};w={window}");
            if (stats.RequestsLeftInWindow is { } left)
                remaining.Add($"\"requests\";r={Math.Max(0, left)}");
        }
        if (policy.LoadPerWindow is { } load)
        {
            policies.Add($"\"tokens\";q={load};w={window}");
            if (stats.LoadLeftInWindow is { } left)
                remaining.Add($"\"tokens\";r={Math.Max(0, left)}");
        }
        if (policies.Count > 0)
            headers["RateLimit-Policy"] = string.Join(", ", policies);
        if (remaining.Count > 0)
            headers["RateLimit"] = string.Join(", ", remaining);
    }

    public Uri Target(string? path, string? query) => new(endpoint.BaseUrl.TrimEnd('/') + "/" + (path ?? "").TrimStart('/') + query);

    /// <summary>Puts the upstream's key where its provider reads it.</summary>
    public void Authorize(HttpRequestMessage message)
    {
        if (key is null)
            return;
        switch (endpoint.Provider)
        {
            case UpstreamEndpoint.AzureOpenAi:
                message.Headers.TryAddWithoutValidation("api-key", key);
                break;
            case UpstreamEndpoint.Anthropic:
                message.Headers.TryAddWithoutValidation("x-api-key", key);
                break;
            default:
                message.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
                break;
        }
    }
}

/// <summary>The upstreams of resources, from their definitions, each kept for a few seconds (a policy change reaches the
/// proxy within that time) so that a call does not read the store.</summary>
internal sealed class ProxyUpstreams(ResourceCatalog catalog, IConfiguration configuration, TimeProvider time)
{
    private static readonly TimeSpan KeepFor = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (ResourcePolicy? Policy, DateTimeOffset Until)> _known = new(StringComparer.Ordinal);

    /// <summary>The upstream of <paramref name="resource"/>; null when it has none (or does not exist).</summary>
    public async Task<ProxyUpstream?> FindAsync(string resource, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!_known.TryGetValue(resource, out var known) || known.Until <= now)
        {
            var definition = await catalog.GetAsync(resource, ct);
            known = (definition?.Policy, now + KeepFor);
            _known[resource] = known;
        }
        if (known.Policy is not { Upstream: { } endpoint } policy)
            return null;
        string? key = endpoint.KeySetting is { } setting ? configuration[setting] ?? Environment.GetEnvironmentVariable(setting) : null;
        return new ProxyUpstream(endpoint, string.IsNullOrEmpty(key) ? null : key, policy);
    }
}
