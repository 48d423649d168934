using Microsoft.Extensions.Options;
using OrleansQueue.Contracts;

namespace OrleansQueue.Grains.Hosting;

/// <summary>
/// What the resource grains need from their silo: where their state lives, how long an idle resource stays active, and
/// the resources to define at start. Bound from a configuration section (the standalone silo's is "Silo") or set by a
/// delegate, through <c>ISiloBuilder.AddOrleansQueue</c>.
/// </summary>
public sealed class OrleansQueueOptions
{
    /// <summary>Where grain state lives.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary>How long a resource's grain stays active with nothing waiting, held or observed.</summary>
    /// <value>The default value is 300 seconds.</value>
    public int IdleTimeoutSeconds { get; set; } = 300;

    /// <summary>Resources to create (or whose policy to set) at start, by name: the same fields as PUT /v1/resources/{name}.</summary>
    public Dictionary<string, ResourceBody> Resources { get; set; } = [];

    /// <summary>The rules these options break, each naming its setting under <paramref name="section"/> (the configuration
    /// path the options come from).</summary>
    public IEnumerable<string> Validate(string section)
    {
        foreach (var (name, body) in Resources)
        {
            if (!Names.IsValidResource(name))
                yield return $"{section}:Resources:{name} is not a valid resource name: it must be {Names.ResourceRule}.";
            else if (PolicyMapping.ToDefinition(name, body).Problem is { } problem)
                yield return $"{section}:Resources:{name}: {problem.Detail}";
        }
        if (Store.Provider is not ("sqlite" or "memory" or "postgres" or "redis"))
            yield return $"{section}:Store:Provider must be \"sqlite\", \"postgres\", \"redis\" or \"memory\"; it is \"{Store.Provider}\".";
        if (Store.Provider == "sqlite" && string.IsNullOrWhiteSpace(Store.Path))
            yield return $"{section}:Store:Path must name a file.";
        if (Store.Provider == "postgres" && string.IsNullOrWhiteSpace(Store.ConnectionString))
            yield return $"{section}:Store:ConnectionString is required with the postgres provider (Host=...;Database=...;Username=...;Password=...).";
        if (Store.Provider == "redis" && string.IsNullOrWhiteSpace(Store.ConnectionString))
            yield return $"{section}:Store:ConnectionString is required with the redis provider (host:port, e.g. 127.0.0.1:6379).";
        if (Store.Synchronous is not ("NORMAL" or "FULL"))
            yield return $"{section}:Store:Synchronous must be NORMAL or FULL; it is \"{Store.Synchronous}\".";
        if (!string.IsNullOrWhiteSpace(Store.ConnectionCaPath) && !File.Exists(Store.ConnectionCaPath))
            yield return $"{section}:Store:ConnectionCaPath: no such file \"{Store.ConnectionCaPath}\".";
        if (Store.CompactAfter < 1)
            yield return $"{section}:Store:CompactAfter must be at least 1; it is {Store.CompactAfter}.";
        if (IdleTimeoutSeconds < 1)
            yield return $"{section}:IdleTimeoutSeconds must be at least 1; it is {IdleTimeoutSeconds}.";
    }
}

public sealed class StoreOptions
{
    /// <summary>"sqlite" (durable, one silo: the default), "redis" or "postgres" (durable, shared by the silos of a cluster) or "memory".</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>The PostgreSQL connection string (postgres; <c>SSL Mode=VerifyFull</c> for TLS), or the Redis server (redis:
    /// host:port, StackExchange.Redis options; <c>ssl=true,password=…</c> for TLS with a password).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>A PEM file with the CA that issued the store server's certificate, when it is not one the system trusts
    /// (PostgreSQL's <c>Root Certificate</c>; for Redis with <c>ssl=true</c>). The server's name is checked against it.</summary>
    public string? ConnectionCaPath { get; set; }

    /// <summary>The SQLite database file, relative to the working directory.</summary>
    /// <value>The default value is <c>data/orleansqueue.db</c>.</value>
    public string Path { get; set; } = "data/orleansqueue.db";

    /// <summary>NORMAL survives a process crash (kill -9); FULL also survives power loss, at an fsync per commit.</summary>
    public string Synchronous { get; set; } = "NORMAL";

    /// <summary>How many batches a resource's change log gathers before the store folds them into the resource's tables
    /// (off the path of any reply; a claim and a release fold too). Fewer: shorter logs to read at a claim, more folding.</summary>
    /// <value>The default value is 256.</value>
    public int CompactAfter { get; set; } = 256;
}

/// <summary>Options that break a rule stop the silo at start, with a message naming each setting under its section.</summary>
internal sealed class OrleansQueueOptionsValidator(string section) : IValidateOptions<OrleansQueueOptions>
{
    public ValidateOptionsResult Validate(string? name, OrleansQueueOptions options) =>
        options.Validate(section).ToList() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
