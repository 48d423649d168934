
namespace OrleansQueue.Contracts;

/// <summary>A resource's definition. Durations are milliseconds; omitted fields take their defaults; limits omitted are unlimited.</summary>
public sealed record ResourceBody(
    int? MaxConcurrent = null,
    long? RequestsPerWindow = null,
    long? LoadPerWindow = null,
    long? WindowMs = null,
    int? MaxQueueLength = null,
    int? MaxQueuedPerClient = null,
    long? DefaultMaxWaitMs = null,
    long? MaxWaitMs = null,
    long? LeaseTtlMs = null,
    long? ClaimWindowMs = null,
    long? AgingIntervalMs = null,
    bool? PushEnabled = null,
    long? JobVisibilityTimeoutMs = null,
    int? JobMaxAttempts = null,
    long? JobRetryDelayMs = null,
    long? JobRetentionMs = null,
    int? MaxQueuedPerTenant = null,
    AdaptiveMode? Adaptive = null,
    double? AimdDecrease = null,
    double? AimdIncrease = null,
    Dictionary<string, int>? ClientWeights = null,
    Dictionary<string, double>? MinShares = null,
    UpstreamEndpointBody? Upstream = null,
    long? JobMaxOutputBytes = null);

/// <summary>The upstream the silo's proxy forwards a resource's calls to (<c>/v1/proxy/{resource}/…</c>).</summary>
/// <param name="BaseUrl">An absolute http or https URL, e.g. <c>https://api.openai.com</c>; the proxied path is appended.</param>
/// <param name="Provider"><c>openai</c> (the default; OpenAI-compatible APIs too), <c>azure-openai</c>, <c>anthropic</c> or <c>generic</c>.</param>
/// <param name="KeySetting">The name of the silo's configuration key or environment variable that holds the upstream's key,
/// e.g. <c>OPENAI_API_KEY</c>; the key itself is never stored or returned.</param>
public sealed record UpstreamEndpointBody(string? BaseUrl = null, string? Provider = null, string? KeySetting = null);

/// <summary>A resource: its name, whether it pushes, and its policy.</summary>
public sealed record ResourceView(string Name, bool PushEnabled, ResourceBody Policy);
