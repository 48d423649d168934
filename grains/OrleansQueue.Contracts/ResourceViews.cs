
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
    Dictionary<string, double>? MinShares = null);

/// <summary>A resource: its name, whether it pushes, and its policy.</summary>
public sealed record ResourceView(string Name, bool PushEnabled, ResourceBody Policy);
