using OrleansQueue.Scheduling.Internals;

namespace OrleansQueue.Scheduling;

/// <summary>
/// The budget and waitlist rules of one resource. Plain data: <see cref="Validate"/> checks it once and
/// <see cref="ResourceScheduler"/> keeps its own copy. A <c>null</c> limit means "no limit of that kind".
/// </summary>
public sealed record ResourcePolicy
{
    /// <summary>The largest load one request may ask for, whatever the policy (2^40).</summary>
    public const long MaxLoad = 1L << 40;

    /// <summary>The longest duration any time option accepts (one day).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(1);

    /// <summary>Leases that may be held at once.</summary>
    /// <value>The default value is <c>null</c> (unlimited). When set, at least 1.</value>
    public int? MaxConcurrent { get; init; }

    /// <summary>Grants allowed in any <see cref="Window"/>-long interval.</summary>
    /// <value>The default value is <c>null</c> (unlimited). When set, at least 1.</value>
    public long? RequestsPerWindow { get; init; }

    /// <summary>Load (tokens) that grants may sum to in any <see cref="Window"/>-long interval.
    /// Budget comes back continuously: each unit returns exactly one window after it was spent.</summary>
    /// <value>The default value is <c>null</c> (unlimited). When set, 1 to <see cref="MaxLoad"/>.</value>
    public long? LoadPerWindow { get; init; }

    /// <summary>The length of the sliding rate window.</summary>
    /// <value>The default value is one minute. Above zero, at most one day.</value>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Requests that may wait at once; a request beyond it is refused as queue full.</summary>
    /// <value>The default value is 10,000. Zero disables waiting.</value>
    public int MaxQueueLength { get; init; } = 10_000;

    /// <summary>Requests one client may have waiting at once.</summary>
    /// <value>The default value is 1,000. Zero disables waiting.</value>
    public int MaxQueuedPerClient { get; init; } = 1_000;

    /// <summary>Requests the clients of one tenant may have waiting at once, whatever their client ids: a client id of the
    /// form <c>tenant:client</c> belongs to the tenant before its first colon (the silo names every client so).</summary>
    /// <value>The default value is <c>null</c>: no limit but <see cref="MaxQueueLength"/>. Zero disables waiting.</value>
    public int? MaxQueuedPerTenant { get; init; }

    /// <summary>The maximum wait of a request that names none.</summary>
    /// <value>The default value is 30 seconds. At most <see cref="MaxWait"/>.</value>
    public TimeSpan DefaultMaxWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest maximum wait a request may ask for.</summary>
    /// <value>The default value is 10 minutes. At most one day.</value>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a lease lives without renewal; on expiry its concurrency returns, its rate budget stays spent.</summary>
    /// <value>The default value is one minute. Above zero, at most one day.</value>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a grant made to a waiting request may go unclaimed before it is reclaimed.</summary>
    /// <value>The default value is 10 seconds. Above zero, at most <see cref="LeaseTtl"/>.</value>
    public TimeSpan ClaimWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When set, a request that has waited this long moves up one priority level, and again
    /// after each further interval, so that low levels are not starved by steady urgent traffic.</summary>
    /// <value>The default value is <c>null</c> (no aging). When set, above zero, at most one day.</value>
    public TimeSpan? AgingInterval { get; init; }

    /// <summary>How long a worker holds a job without a heartbeat or progress report before it goes back to the queue.</summary>
    /// <value>The default value is 30 seconds. Above zero, at most one day.</value>
    public TimeSpan JobVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times a job is handed to a worker before it is dead-lettered.</summary>
    /// <value>The default value is 3. From 1 to 100.</value>
    public int JobMaxAttempts { get; init; } = 3;

    /// <summary>The wait before a failed job queues again; it doubles with each further attempt (capped at an hour).</summary>
    /// <value>The default value is one second. Zero or more, at most one day.</value>
    public TimeSpan JobRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a finished job (completed, dead-lettered, cancelled) and its result are kept.</summary>
    /// <value>The default value is one hour. Above zero, at most one day.</value>
    public TimeSpan JobRetention { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How much output (UTF-8 bytes) a job's workers may append in all; an append past it is refused.</summary>
    /// <value>The default value is 1 MiB. Zero (no output) to <see cref="MaxJobOutputBytes"/>.</value>
    public long JobMaxOutputBytes { get; init; } = 1 << 20;

    /// <summary>The largest <see cref="JobMaxOutputBytes"/>.</summary>
    public const long MaxJobOutputBytes = 64L << 20;

    /// <summary>How the resource learns from what the upstream answers its callers (<see cref="ResourceScheduler.ReportUpstream"/>):
    /// <see cref="AdaptiveMode.Off"/> (the default) ignores the reports.</summary>
    public AdaptiveMode Adaptive { get; init; } = AdaptiveMode.Off;

    /// <summary>With <see cref="AdaptiveMode.Aimd"/>: the factor the working limits are multiplied by at each 429 (0 to 1).</summary>
    public double AimdDecrease { get; init; } = 0.7;

    /// <summary>With <see cref="AdaptiveMode.Aimd"/>: the share of the configured limits the working limits climb back by per
    /// window without a 429 (0 to 1).</summary>
    public double AimdIncrease { get; init; } = 0.1;

    /// <summary>Weights of clients within a level (1 to <see cref="MaxWeight"/>; a client not named weighs 1): backlogged clients
    /// receive load in proportion. A key is a client id, or "tenant:client" for one tenant's client only.</summary>
    public IReadOnlyDictionary<string, int>? ClientWeights { get; init; }

    /// <summary>The least share of granted load each level gets while it has requests waiting, strict priority otherwise
    /// (e.g. Background 0.05). Shares are 0 to 1 and add up to at most 1.</summary>
    public IReadOnlyDictionary<Priority, double>? MinShares { get; init; }

    /// <summary>The upstream the silo's proxy forwards this resource's calls to; null: it proxies nothing.</summary>
    public UpstreamEndpoint? Upstream { get; init; }

    /// <summary>The largest client weight.</summary>
    public const int MaxWeight = 100;

    /// <summary>The default policy: no limits, a one-minute window.</summary>
    public static ResourcePolicy Default { get; } = new();

    /// <summary>Every rule this policy breaks, each naming its field; empty when it is valid.</summary>
    public IReadOnlyList<PolicyError> Validate()
    {
        var errors = new List<PolicyError>();
        if (MaxConcurrent is < 1)
            errors.Add(new(nameof(MaxConcurrent), $"must be at least 1 when set; it is {MaxConcurrent}."));
        if (RequestsPerWindow is < 1)
            errors.Add(new(nameof(RequestsPerWindow), $"must be at least 1 when set; it is {RequestsPerWindow}."));
        if (LoadPerWindow is < 1 or > MaxLoad)
            errors.Add(new(nameof(LoadPerWindow), $"must be between 1 and {MaxLoad} when set; it is {LoadPerWindow}."));
        CheckDuration(errors, nameof(Window), Window);
        if (MaxQueueLength < 0)
            errors.Add(new(nameof(MaxQueueLength), $"must not be negative; it is {MaxQueueLength}."));
        if (MaxQueuedPerClient < 0)
            errors.Add(new(nameof(MaxQueuedPerClient), $"must not be negative; it is {MaxQueuedPerClient}."));
        if (MaxQueuedPerTenant < 0)
            errors.Add(new(nameof(MaxQueuedPerTenant), $"must not be negative when set; it is {MaxQueuedPerTenant}."));
        if (MaxWait < TimeSpan.Zero || MaxWait > MaxDuration)
            errors.Add(new(nameof(MaxWait), $"must be between zero and {DurationText.Of(MaxDuration)}; it is {DurationText.Of(MaxWait)}."));
        if (DefaultMaxWait < TimeSpan.Zero || DefaultMaxWait > MaxWait)
            errors.Add(new(nameof(DefaultMaxWait), $"must be between zero and MaxWait ({DurationText.Of(MaxWait)}); it is {DurationText.Of(DefaultMaxWait)}."));
        CheckDuration(errors, nameof(LeaseTtl), LeaseTtl);
        if (ClaimWindow <= TimeSpan.Zero || ClaimWindow > LeaseTtl)
            errors.Add(new(nameof(ClaimWindow), $"must be above zero and at most LeaseTtl ({DurationText.Of(LeaseTtl)}); it is {DurationText.Of(ClaimWindow)}."));
        if (AgingInterval is { } aging)
            CheckDuration(errors, nameof(AgingInterval), aging);
        CheckDuration(errors, nameof(JobVisibilityTimeout), JobVisibilityTimeout);
        if (JobMaxAttempts is < 1 or > 100)
            errors.Add(new(nameof(JobMaxAttempts), $"must be between 1 and 100; it is {JobMaxAttempts}."));
        if (JobRetryDelay < TimeSpan.Zero || JobRetryDelay > MaxDuration)
            errors.Add(new(nameof(JobRetryDelay), $"must be between zero and {DurationText.Of(MaxDuration)}; it is {DurationText.Of(JobRetryDelay)}."));
        CheckDuration(errors, nameof(JobRetention), JobRetention);
        if (JobMaxOutputBytes is < 0 or > MaxJobOutputBytes)
            errors.Add(new(nameof(JobMaxOutputBytes), $"must be between 0 and {MaxJobOutputBytes} (64 MiB); it is {JobMaxOutputBytes}."));
        if (!Enum.IsDefined(Adaptive))
            errors.Add(new(nameof(Adaptive), $"must be off, headers or aimd; it is {(int)Adaptive}."));
        if (!(AimdDecrease > 0 && AimdDecrease < 1))
            errors.Add(new(nameof(AimdDecrease), $"must be above 0 and below 1; it is {AimdDecrease}."));
        if (!(AimdIncrease > 0 && AimdIncrease <= 1))
            errors.Add(new(nameof(AimdIncrease), $"must be above 0 and at most 1; it is {AimdIncrease}."));
        foreach (var (client, weight) in ClientWeights ?? new Dictionary<string, int>())
        {
            if (string.IsNullOrWhiteSpace(client) || weight is < 1 or > MaxWeight)
                errors.Add(new(nameof(ClientWeights), $"must map client ids to weights from 1 to {MaxWeight}; \"{client}\" has {weight}."));
        }
        if (MinShares is { } shares)
        {
            foreach (var (level, share) in shares)
            {
                if (!PriorityLevels.IsDefined(level) || !(share >= 0 && share <= 1))
                    errors.Add(new(nameof(MinShares), $"must map priority levels to shares from 0 to 1; {level} has {share}."));
            }
            if (shares.Values.Where(v => v is >= 0 and <= 1).Sum() > 1 + 1e-9)
                errors.Add(new(nameof(MinShares), $"must add up to at most 1; they add up to {shares.Values.Sum()}."));
        }
        foreach (string rule in Upstream?.Validate() ?? [])
            errors.Add(new(nameof(Upstream), rule));
        return errors;
    }

    /// <summary>Throws <see cref="InvalidPolicyException"/> naming every broken rule, if any.</summary>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new InvalidPolicyException(errors);
    }

    private static void CheckDuration(List<PolicyError> errors, string field, TimeSpan value)
    {
        if (value <= TimeSpan.Zero || value > MaxDuration)
            errors.Add(new(field, $"must be above zero and at most {DurationText.Of(MaxDuration)}; it is {DurationText.Of(value)}."));
    }
}
