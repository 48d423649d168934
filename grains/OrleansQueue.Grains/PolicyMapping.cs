using OrleansQueue.Scheduling;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Storage;

namespace OrleansQueue.Grains;

/// <summary>Between the API's <see cref="ResourceBody"/> (milliseconds, camelCase) and the core's <see cref="ResourcePolicy"/>.</summary>
internal static class PolicyMapping
{
    private static readonly long MaxMs = (long)ResourcePolicy.MaxDuration.TotalMilliseconds;

    private static readonly Dictionary<string, string> JsonNames = new()
    {
        [nameof(ResourcePolicy.MaxConcurrent)] = "maxConcurrent",
        [nameof(ResourcePolicy.RequestsPerWindow)] = "requestsPerWindow",
        [nameof(ResourcePolicy.LoadPerWindow)] = "loadPerWindow",
        [nameof(ResourcePolicy.Window)] = "windowMs",
        [nameof(ResourcePolicy.MaxQueueLength)] = "maxQueueLength",
        [nameof(ResourcePolicy.MaxQueuedPerClient)] = "maxQueuedPerClient",
        [nameof(ResourcePolicy.MaxQueuedPerTenant)] = "maxQueuedPerTenant",
        [nameof(ResourcePolicy.DefaultMaxWait)] = "defaultMaxWaitMs",
        [nameof(ResourcePolicy.MaxWait)] = "maxWaitMs",
        [nameof(ResourcePolicy.LeaseTtl)] = "leaseTtlMs",
        [nameof(ResourcePolicy.ClaimWindow)] = "claimWindowMs",
        [nameof(ResourcePolicy.AgingInterval)] = "agingIntervalMs",
        [nameof(ResourcePolicy.JobVisibilityTimeout)] = "jobVisibilityTimeoutMs",
        [nameof(ResourcePolicy.JobMaxAttempts)] = "jobMaxAttempts",
        [nameof(ResourcePolicy.JobRetryDelay)] = "jobRetryDelayMs",
        [nameof(ResourcePolicy.JobRetention)] = "jobRetentionMs",
        [nameof(ResourcePolicy.JobMaxOutputBytes)] = "jobMaxOutputBytes",
        [nameof(ResourcePolicy.Adaptive)] = "adaptive",
        [nameof(ResourcePolicy.AimdDecrease)] = "aimdDecrease",
        [nameof(ResourcePolicy.AimdIncrease)] = "aimdIncrease",
        [nameof(ResourcePolicy.ClientWeights)] = "clientWeights",
        [nameof(ResourcePolicy.MinShares)] = "minShares",
        [nameof(ResourcePolicy.Upstream)] = "upstream",
    };

    public static Outcome<ResourceDefinition> ToDefinition(string name, ResourceBody body)
    {
        var defaults = ResourcePolicy.Default;
        foreach (var (field, value) in new (string, long?)[]
        {
            ("windowMs", body.WindowMs), ("defaultMaxWaitMs", body.DefaultMaxWaitMs), ("maxWaitMs", body.MaxWaitMs),
            ("leaseTtlMs", body.LeaseTtlMs), ("claimWindowMs", body.ClaimWindowMs), ("agingIntervalMs", body.AgingIntervalMs),
            ("jobVisibilityTimeoutMs", body.JobVisibilityTimeoutMs), ("jobRetryDelayMs", body.JobRetryDelayMs), ("jobRetentionMs", body.JobRetentionMs),
        })
        {
            if (value is < 0 || value > MaxMs)
                return Problem.Invalid(field, $"{field} must be between 0 and {MaxMs} (one day); it is {value}.");
        }
        var minShares = new Dictionary<Scheduling.Priority, double>();
        foreach (var (level, share) in body.MinShares ?? [])
        {
            if (!Enum.TryParse<Scheduling.Priority>(level, ignoreCase: true, out var priority) || !PriorityLevels.IsDefined(priority) || level.Any(char.IsDigit) || level.Trim() != level)
                return Problem.Invalid("minShares", $"minShares keys must be priority names (critical, high, normal, low, background); \"{level}\" is not one.");
            minShares[priority] = share;
        }
        var policy = new ResourcePolicy
        {
            MaxConcurrent = body.MaxConcurrent,
            RequestsPerWindow = body.RequestsPerWindow,
            LoadPerWindow = body.LoadPerWindow,
            Window = Ms(body.WindowMs) ?? defaults.Window,
            MaxQueueLength = body.MaxQueueLength ?? defaults.MaxQueueLength,
            MaxQueuedPerClient = body.MaxQueuedPerClient ?? defaults.MaxQueuedPerClient,
            MaxQueuedPerTenant = body.MaxQueuedPerTenant,
            DefaultMaxWait = Ms(body.DefaultMaxWaitMs) ?? defaults.DefaultMaxWait,
            MaxWait = Ms(body.MaxWaitMs) ?? defaults.MaxWait,
            LeaseTtl = Ms(body.LeaseTtlMs) ?? defaults.LeaseTtl,
            ClaimWindow = Ms(body.ClaimWindowMs) ?? defaults.ClaimWindow,
            AgingInterval = Ms(body.AgingIntervalMs),
            JobVisibilityTimeout = Ms(body.JobVisibilityTimeoutMs) ?? defaults.JobVisibilityTimeout,
            JobMaxAttempts = body.JobMaxAttempts ?? defaults.JobMaxAttempts,
            JobRetryDelay = Ms(body.JobRetryDelayMs) ?? defaults.JobRetryDelay,
            JobRetention = Ms(body.JobRetentionMs) ?? defaults.JobRetention,
            JobMaxOutputBytes = body.JobMaxOutputBytes ?? defaults.JobMaxOutputBytes,
            Adaptive = body.Adaptive?.ToScheduler() ?? defaults.Adaptive,
            AimdDecrease = body.AimdDecrease ?? defaults.AimdDecrease,
            AimdIncrease = body.AimdIncrease ?? defaults.AimdIncrease,
            ClientWeights = body.ClientWeights is { Count: > 0 } weights ? new Dictionary<string, int>(weights, StringComparer.Ordinal) : null,
            MinShares = minShares.Count > 0 ? minShares : null,
            Upstream = body.Upstream is { } upstream
                ? new UpstreamEndpoint(upstream.BaseUrl ?? "", upstream.Provider ?? UpstreamEndpoint.OpenAi, upstream.KeySetting)
                : null,
        };
        var errors = policy.Validate();
        if (errors.Count > 0)
        {
            var first = errors[0];
            string field = JsonNames.GetValueOrDefault(first.Field, first.Field);
            return Problem.Invalid(field, string.Join(" ", errors.Select(e => $"{JsonNames.GetValueOrDefault(e.Field, e.Field)} {e.Rule}")));
        }
        return new(new ResourceDefinition(name, policy, body.PushEnabled ?? true), null);
    }

    public static ResourceView ToView(ResourceDefinition d) => new(d.Name, d.PushEnabled, new ResourceBody(
        d.Policy.MaxConcurrent, d.Policy.RequestsPerWindow, d.Policy.LoadPerWindow, (long)d.Policy.Window.TotalMilliseconds,
        d.Policy.MaxQueueLength, d.Policy.MaxQueuedPerClient, (long)d.Policy.DefaultMaxWait.TotalMilliseconds,
        (long)d.Policy.MaxWait.TotalMilliseconds, (long)d.Policy.LeaseTtl.TotalMilliseconds,
        (long)d.Policy.ClaimWindow.TotalMilliseconds, (long?)d.Policy.AgingInterval?.TotalMilliseconds, null,
        (long)d.Policy.JobVisibilityTimeout.TotalMilliseconds, d.Policy.JobMaxAttempts, (long)d.Policy.JobRetryDelay.TotalMilliseconds,
        (long)d.Policy.JobRetention.TotalMilliseconds, d.Policy.MaxQueuedPerTenant,
        d.Policy.Adaptive.ToWire(), d.Policy.AimdDecrease, d.Policy.AimdIncrease,
        d.Policy.ClientWeights is { } w ? new Dictionary<string, int>(w) : null,
        d.Policy.MinShares?.ToDictionary(s => s.Key.ToString().ToLowerInvariant(), s => s.Value),
        d.Policy.Upstream is { } u ? new UpstreamEndpointBody(u.BaseUrl, u.Provider, u.KeySetting) : null,
        d.Policy.JobMaxOutputBytes));

    private static TimeSpan? Ms(long? ms) => ms is { } v ? TimeSpan.FromMilliseconds(v) : null;
}
