namespace OrleansQueue.Silo.Hosting;

/// <summary>The silo's options, from the "Silo" configuration section (appsettings, environment, command line).</summary>
public sealed class SiloOptions
{
    public const string Section = "Silo";

    /// <summary>Where grain state lives.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary>How this silo finds the others (Orleans membership).</summary>
    public ClusteringOptions Clustering { get; set; } = new();

    /// <summary>API keys, each mapped to a tenant. None: every caller is tenant "default" with admin rights,
    /// and the silo refuses to listen beyond loopback unless <see cref="AllowInsecure"/>.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Allows listening beyond loopback without API keys.</summary>
    /// <value>The default value is <c>false</c>.</value>
    public bool AllowInsecure { get; set; }

    /// <summary>The largest request body accepted.</summary>
    /// <value>The default value is 65,536 bytes.</value>
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>The longest path and query the silo takes (414 <c>uri-too-long</c> beyond).</summary>
    public const int MaxUrlBytes = 8 * 1024;

    /// <summary>The most header bytes (names and values) the silo takes, and the most headers (431 <c>headers-too-large</c> beyond).</summary>
    public const int MaxHeaderBytes = 32 * 1024, MaxHeaderCount = 100;

    /// <summary>Where Kestrel itself stops reading (and answers 414/431 with no body): far enough past the silo's own limits
    /// that a request only somewhat over them reaches the silo's code and gets a problem that says why.</summary>
    public const int KestrelLineBytes = 64 * 1024, KestrelHeaderBytes = 128 * 1024, KestrelHeaderCount = 1000;

    /// <summary>The most a WebSocket session may have queued for its client and not yet sent: past it, the client is
    /// not reading its replies, and the session is closed with 1008 (policy violation).</summary>
    /// <value>The default value is 4 MiB.</value>
    public int MaxSessionOutboxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most grain calls one tenant may have in flight through this silo's gateway at once; more wait their turn.</summary>
    /// <value>The default value is 128.</value>
    public int MaxCallsInFlightPerTenant { get; set; } = 128;

    /// <summary>The most operations one WebSocket session may have in flight at once; further messages wait to be read.</summary>
    /// <value>The default value is 256.</value>
    public int MaxSessionInFlight { get; set; } = 256;

    /// <summary>The most WebSocket sessions and event streams one tenant may have open on one silo at once.</summary>
    /// <value>The default value is 5,000.</value>
    public int MaxStreamsPerTenant { get; set; } = 5000;

    /// <summary>How long a resource's grain stays active with nothing waiting, held or observed.</summary>
    /// <value>The default value is 300 seconds.</value>
    public int IdleTimeoutSeconds { get; set; } = 300;

    /// <summary>The longest long-poll a caller may ask for.</summary>
    /// <value>The default value is 60 seconds.</value>
    public int MaxLongPollSeconds { get; set; } = 60;

    /// <summary>Resources to create (or whose policy to set) at start, by name: the same fields as PUT /v1/resources/{name}.</summary>
    public Dictionary<string, ResourceBody> Resources { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var (name, body) in Resources)
        {
            if (!Names.IsValidResource(name))
                yield return $"Silo:Resources:{name} is not a valid resource name: it must be {Names.ResourceRule}.";
            else if (Gateway.PolicyMapping.ToDefinition(name, body).Problem is { } problem)
                yield return $"Silo:Resources:{name}: {problem.Detail}";
        }
        if (Store.Provider is not ("sqlite" or "memory" or "postgres" or "redis"))
            yield return $"Silo:Store:Provider must be \"sqlite\", \"postgres\", \"redis\" or \"memory\"; it is \"{Store.Provider}\".";
        if (Store.Provider == "sqlite" && string.IsNullOrWhiteSpace(Store.Path))
            yield return "Silo:Store:Path must name a file.";
        if (Store.Provider == "postgres" && string.IsNullOrWhiteSpace(Store.ConnectionString))
            yield return "Silo:Store:ConnectionString is required with the postgres provider (Host=...;Database=...;Username=...;Password=...).";
        if (Store.Provider == "redis" && string.IsNullOrWhiteSpace(Store.ConnectionString))
            yield return "Silo:Store:ConnectionString is required with the redis provider (host:port, e.g. 127.0.0.1:6379).";
        if (Clustering.Provider is not ("localhost" or "redis"))
            yield return $"Silo:Clustering:Provider must be \"localhost\" or \"redis\"; it is \"{Clustering.Provider}\".";
        if (Clustering.Provider == "redis" && string.IsNullOrWhiteSpace(Clustering.ConnectionString))
            yield return "Silo:Clustering:ConnectionString is required with the redis provider (host:port, e.g. 127.0.0.1:6379).";
        if (Clustering.Provider == "redis" && Store.Provider is "sqlite" or "memory")
            yield return $"Silo:Store:Provider \"{Store.Provider}\" cannot be shared by the silos of a cluster: with Silo:Clustering:Provider \"redis\" use \"redis\" or \"postgres\".";
        if (MaxSessionOutboxBytes < 64 * 1024)
            yield return $"Silo:MaxSessionOutboxBytes must be at least 65536; it is {MaxSessionOutboxBytes}.";
        if (MaxStreamsPerTenant < 1)
            yield return $"Silo:MaxStreamsPerTenant must be at least 1; it is {MaxStreamsPerTenant}.";
        if (MaxCallsInFlightPerTenant < 1)
            yield return $"Silo:MaxCallsInFlightPerTenant must be at least 1; it is {MaxCallsInFlightPerTenant}.";
        if (MaxSessionInFlight < 1)
            yield return $"Silo:MaxSessionInFlight must be at least 1; it is {MaxSessionInFlight}.";
        if (Clustering.SiloPort is < 0 or > 65535)
            yield return $"Silo:Clustering:SiloPort must be between 0 (any free port) and 65535; it is {Clustering.SiloPort}.";
        if (Clustering.ListenPort is < 0 or > 65535)
            yield return $"Silo:Clustering:ListenPort must be between 0 (the same as SiloPort) and 65535; it is {Clustering.ListenPort}.";
        if (Clustering.GatewayPort is < 0 or > 65535)
            yield return $"Silo:Clustering:GatewayPort must be between 0 (no Orleans gateway) and 65535; it is {Clustering.GatewayPort}.";
        if (string.IsNullOrWhiteSpace(Clustering.AdvertisedHost))
            yield return "Silo:Clustering:AdvertisedHost must name this silo's address (an IP address or a host name).";
        if (string.IsNullOrWhiteSpace(Clustering.ClusterId))
            yield return "Silo:Clustering:ClusterId must not be empty.";
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
            if (!Names.IsValidTenant(key.Tenant))
                yield return $"Silo:ApiKeys:{i}:Tenant must be 1 to 64 letters, digits, '-', '_' or '.'; it is \"{key.Tenant}\".";
        }
        if (ApiKeys.Select(k => k.Key).Distinct().Count() != ApiKeys.Count)
            yield return "Silo:ApiKeys must not repeat a key.";
    }
}

public sealed class StoreOptions
{
    /// <summary>"sqlite" (durable, one silo: the default), "redis" or "postgres" (durable, shared by the silos of a cluster) or "memory".</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>The PostgreSQL connection string (postgres), or the Redis server (redis: host:port, StackExchange.Redis options).</summary>
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

/// <summary>Orleans clustering: one silo on its own (localhost), or a cluster whose membership lives in Redis.</summary>
public sealed class ClusteringOptions
{
    /// <summary>"localhost" (one silo: the default) or "redis" (a cluster; needs a store the silos share).</summary>
    public string Provider { get; set; } = "localhost";

    /// <summary>The Redis server that keeps the membership, with the redis provider (e.g. 127.0.0.1:6379).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The cluster's name: silos with the same id form one cluster.</summary>
    /// <value>The default value is <c>orleansqueue</c>.</value>
    public string ClusterId { get; set; } = "orleansqueue";

    /// <summary>The port silos talk to each other on (0: any free port, for a silo on its own).</summary>
    /// <value>The default value is 11111.</value>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port this silo listens on for other silos, when it is not the <see cref="SiloPort"/> it advertises:
    /// behind a port mapping (a container's published port, a NAT, a proxy). 0: it listens on <see cref="SiloPort"/>.</summary>
    public int ListenPort { get; set; }

    /// <summary>The address other silos and Orleans clients reach this silo at: an IP address or a host name that resolves
    /// to one (a container's name). Beyond loopback the silo listens on every interface.</summary>
    /// <value>The default value is <c>127.0.0.1</c>.</value>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>The port Orleans clients connect to (0: none).</summary>
    /// <value>The default value is 30000.</value>
    public int GatewayPort { get; set; } = 30000;
}
