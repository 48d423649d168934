namespace OrleansQueue.Silo.Hosting;

/// <summary>The silo's options, from the "Silo" configuration section (appsettings, environment, command line).</summary>
public sealed class SiloOptions
{
    public const string Section = "Silo";

    /// <summary>Where grain state lives.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary>How this silo joins others that share its store (PostgreSQL).</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>API keys, each mapped to a tenant. None: every caller is tenant "default" with admin rights,
    /// and the silo refuses to listen beyond loopback unless <see cref="AllowInsecure"/>.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Allows listening beyond loopback without API keys.</summary>
    /// <value>The default value is <c>false</c>.</value>
    public bool AllowInsecure { get; set; }

    /// <summary>The largest request body accepted.</summary>
    /// <value>The default value is 65,536 bytes.</value>
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>How long a resource's grain stays active with nothing waiting, held or observed.</summary>
    /// <value>The default value is 300 seconds.</value>
    public int IdleTimeoutSeconds { get; set; } = 300;

    /// <summary>The longest long-poll a caller may ask for.</summary>
    /// <value>The default value is 60 seconds.</value>
    public int MaxLongPollSeconds { get; set; } = 60;

    /// <summary>Resources to create (or whose policy to set) at start, by name: the same fields as PUT /v1/resources/{name}.</summary>
    public Dictionary<string, Gateway.ResourceBody> Resources { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var (name, body) in Resources)
        {
            if (!Gateway.Names.IsValidResource(name))
                yield return $"Silo:Resources:{name} is not a valid resource name: it must be {Gateway.Names.ResourceRule}.";
            else if (Gateway.PolicyMapping.ToDefinition(name, body).Problem is { } problem)
                yield return $"Silo:Resources:{name}: {problem.Detail}";
        }
        if (Store.Provider is not ("sqlite" or "memory" or "postgres"))
            yield return $"Silo:Store:Provider must be \"sqlite\", \"postgres\" or \"memory\"; it is \"{Store.Provider}\".";
        if (Store.Provider == "sqlite" && string.IsNullOrWhiteSpace(Store.Path))
            yield return "Silo:Store:Path must name a file.";
        if (Store.Provider == "postgres" && string.IsNullOrWhiteSpace(Store.ConnectionString))
            yield return "Silo:Store:ConnectionString is required with the postgres provider (Host=...;Database=...;Username=...;Password=...).";
        if (Cluster.HeartbeatMilliseconds is < 50 or > 60_000)
            yield return $"Silo:Cluster:HeartbeatMilliseconds must be between 50 and 60000; it is {Cluster.HeartbeatMilliseconds}.";
        if (Cluster.DeadAfterMilliseconds < 3 * Cluster.HeartbeatMilliseconds)
            yield return $"Silo:Cluster:DeadAfterMilliseconds must be at least 3 heartbeats ({3 * Cluster.HeartbeatMilliseconds}); it is {Cluster.DeadAfterMilliseconds}.";
        if (Cluster.Address is { Length: > 0 } address && !Uri.TryCreate(address, UriKind.Absolute, out _))
            yield return $"Silo:Cluster:Address must be an absolute URL that other silos can reach; it is \"{address}\".";
        if (Store.Synchronous is not ("NORMAL" or "FULL"))
            yield return $"Silo:Store:Synchronous must be NORMAL or FULL; it is \"{Store.Synchronous}\".";
        if (MaxRequestBodyBytes is < 1024 or > 16 * 1024 * 1024)
            yield return $"Silo:MaxRequestBodyBytes must be between 1024 and 16777216; it is {MaxRequestBodyBytes}.";
        if (IdleTimeoutSeconds < 1)
            yield return $"Silo:IdleTimeoutSeconds must be at least 1; it is {IdleTimeoutSeconds}.";
        if (MaxLongPollSeconds is < 1 or > 3600)
            yield return $"Silo:MaxLongPollSeconds must be between 1 and 3600; it is {MaxLongPollSeconds}.";
        for (int i = 0; i < ApiKeys.Count; i++)
        {
            var key = ApiKeys[i];
            if (string.IsNullOrWhiteSpace(key.Key) || key.Key.Length < 16)
                yield return $"Silo:ApiKeys:{i}:Key must be at least 16 characters.";
            if (!Gateway.Names.IsValidTenant(key.Tenant))
                yield return $"Silo:ApiKeys:{i}:Tenant must be 1 to 64 letters, digits, '-', '_' or '.'; it is \"{key.Tenant}\".";
        }
        if (ApiKeys.Select(k => k.Key).Distinct().Count() != ApiKeys.Count)
            yield return "Silo:ApiKeys must not repeat a key.";
    }
}

public sealed class StoreOptions
{
    /// <summary>"sqlite" (durable, one silo: the default), "postgres" (durable, a cluster of silos sharing it) or "memory".</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>The PostgreSQL connection string, with the postgres provider.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The SQLite database file, relative to the working directory.</summary>
    /// <value>The default value is <c>data/orleansqueue.db</c>.</value>
    public string Path { get; set; } = "data/orleansqueue.db";

    /// <summary>NORMAL survives a process crash (kill -9); FULL also survives power loss, at an fsync per commit.</summary>
    public string Synchronous { get; set; } = "NORMAL";
}

public sealed class ApiKeyOptions
{
    public string Key { get; set; } = "";
    public string Tenant { get; set; } = "";

    /// <summary>Whether the key may create, change and delete resources.</summary>
    public bool Admin { get; set; }
}

/// <summary>Cluster membership. A cluster needs a shared store (postgres); with SQLite the silo is on its own.</summary>
public sealed class ClusterOptions
{
    /// <summary>Where the other silos reach this one; by default the first address the server listens on.</summary>
    public string? Address { get; set; }

    /// <summary>Whether an in-memory store is shared with other silos of the process (the test cluster); PostgreSQL always is.</summary>
    public bool Shared { get; set; }

    /// <summary>How often the silo heartbeats.</summary>
    /// <value>The default value is 1,000 ms.</value>
    public int HeartbeatMilliseconds { get; set; } = 1000;

    /// <summary>How long without a heartbeat (by the store's clock) before the others judge a silo dead and take its
    /// resources over: the failover time. A silo stops acting on resources after half of it without a heartbeat.</summary>
    /// <value>The default value is 5,000 ms.</value>
    public int DeadAfterMilliseconds { get; set; } = 5000;

    public TimeSpan HeartbeatInterval => TimeSpan.FromMilliseconds(HeartbeatMilliseconds);
    public TimeSpan DeadAfter => TimeSpan.FromMilliseconds(DeadAfterMilliseconds);
}
