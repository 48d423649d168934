using System.Text.Json;
using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;
using StackExchange.Redis;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The cluster store on Redis alone (with Redis clustering, a cluster needs nothing else). Each resource keeps a few keys
/// of its own (meta, requests, jobs, window, idempotency); each claim, commit, release, put and delete is one Lua script,
/// so Redis applies it whole or not at all, and a commit applies only while its epoch is still the resource's. Commits of
/// grains committing at once are pipelined on the one multiplexed connection. Durable only with Redis' append-only file
/// and <c>appendfsync always</c>: the store says so in the log at start when the server runs otherwise.
/// </summary>
/// <remarks>One Redis server (or a primary with replicas), not Redis Cluster: a resource's scripts also touch the global
/// keys (definitions, owners, the epoch sequence).</remarks>
internal sealed partial class RedisGrainStore(string configuration, ILogger<RedisGrainStore> logger, string keyPrefix = "oq") : IGrainStore
{
    private readonly string _definitions = keyPrefix + ":resources";
    private readonly string _owners = keyPrefix + ":owners";
    private readonly string _epochs = keyPrefix + ":epochs";
    private readonly string _heartbeats = keyPrefix + ":heartbeats";
    private int _pruned;

    private ConnectionMultiplexer? _redis;

    private IDatabase Db => (_redis ?? throw new ObjectDisposedException(nameof(RedisGrainStore))).GetDatabase();

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.AllowAdmin = true; // for CONFIG GET append* alone: the durability check below
        _redis = await ConnectionMultiplexer.ConnectAsync(options);
        await WarnUnlessDurableAsync();
    }

    private async Task WarnUnlessDurableAsync()
    {
        try
        {
            var server = _redis!.GetServers().First();
            var settings = (await server.ConfigGetAsync("append*")).ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
            string aof = settings.GetValueOrDefault("appendonly", "?"), fsync = settings.GetValueOrDefault("appendfsync", "?");
            if (aof != "yes" || fsync != "always")
                LogNotDurable(aof, fsync);
        }
        catch (Exception ex) when (ex is RedisException or InvalidOperationException)
        {
            LogNotDurable("unknown (CONFIG GET refused: " + ex.Message + ")", "unknown");
        }
    }

    private RedisKey[] Keys(string name) =>
        [$"{keyPrefix}:{{{name}}}:meta", $"{keyPrefix}:{{{name}}}:requests", $"{keyPrefix}:{{{name}}}:jobs", $"{keyPrefix}:{{{name}}}:window",
            $"{keyPrefix}:{{{name}}}:idempotency", _definitions, _owners, _epochs, _heartbeats];

    public async Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken)
    {
        var all = await Db.HashGetAllAsync(_definitions);
        return [.. all.Select(e => ParseDefinition(e.Name!, e.Value!)).OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    public async Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken) =>
        await Db.HashGetAsync(_definitions, name) is { HasValue: true } value ? ParseDefinition(name, value!) : null;

    public async Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        string stored = JsonSerializer.Serialize(new StoredDefinition(PolicyJson.Serialize(definition.Policy), definition.PushEnabled));
        var created = await Db.ScriptEvaluateAsync(RedisScripts.Put, Keys(definition.Name), [definition.Name, stored, PolicyJson.Serialize(definition.Policy)]);
        return (long)created == 1;
    }

    public async Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken) =>
        (long)await Db.ScriptEvaluateAsync(RedisScripts.Delete, Keys(name), [name]) == 1;

    public async Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken)
    {
        var result = await Db.ScriptEvaluateAsync(RedisScripts.Claim, Keys(name), [name, owner]);
        if (result.IsNull)
            return null;
        var parts = (RedisResult[])result!;
        var meta = ((RedisResult[])parts[0]!).Chunk(2).ToDictionary(p => (string)p[0]!, p => (string)p[1]!, StringComparer.Ordinal);
        var snapshot = new ResourceSnapshot
        {
            Policy = PolicyJson.Deserialize(meta["policy"]),
            LastId = long.Parse(meta["last_id"], System.Globalization.CultureInfo.InvariantCulture),
            LastFencingToken = long.Parse(meta["last_fencing"], System.Globalization.CultureInfo.InvariantCulture),
            WindowNextSeq = long.Parse(meta["window_next_seq"], System.Globalization.CultureInfo.InvariantCulture),
            SavedAt = ClaimedGrain.LastAlive(long.Parse(meta["saved_at"], System.Globalization.CultureInfo.InvariantCulture), (long)parts[6]),
            Requests = Records<RequestRecord>(parts[1]),
            Jobs = Records<JobRecord>(parts[2]),
            Window = Records<WindowRecord>(parts[3]),
            Idempotency = Records<IdempotencyRecord>(parts[4]),
        };
        return new ClaimedGrain(snapshot, (long)parts[5],
            meta.TryGetValue("seq", out string? seq) ? long.Parse(seq, System.Globalization.CultureInfo.InvariantCulture) : 0);
    }

    public async Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        // A deleted resource's keys are gone: no epoch, so no owner.
        var current = await Db.HashGetAsync(Keys(name)[0], "epoch");
        if (current != epoch.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new OwnershipLostException(name, epoch);
    }

    public async Task HeartbeatAsync(string owner, long aliveAt, CancellationToken cancellationToken)
    {
        // Once per store: forget the silos that own nothing and have not been heard of for a week.
        long pruneBefore = Interlocked.Exchange(ref _pruned, 1) == 0 ? aliveAt - TimeSpan.FromDays(7).Ticks : 0;
        await Db.ScriptEvaluateAsync(RedisScripts.Heartbeat, [_heartbeats, _owners], [owner, aliveAt, pruneBefore]);
    }

    /// <summary>Yes: the commit script checks the batch's number, and one connection runs a resource's scripts in the order sent.</summary>
    public bool PipelinesCommits => true;

    public async Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken cancellationToken)
    {
        var args = new List<RedisValue>
        {
            epoch, changes.LastId, changes.LastFencingToken, changes.WindowNextSeq, changes.SavedAt,
            changes.Policy is { } policy ? PolicyJson.Serialize(policy) : "", changes.WindowHeadSeq, sequence,
        };
        AddPairs(args, changes.UpsertRequests, r => r.Id, r => JsonSerializer.Serialize(r));
        AddPairs(args, changes.UpsertJobs, j => j.Id, j => JsonSerializer.Serialize(j));
        args.Add(changes.DeleteRequests.Count);
        args.AddRange(changes.DeleteRequests.Select(id => (RedisValue)id));
        AddPairs(args, changes.UpsertWindow, w => w.Seq, w => JsonSerializer.Serialize(w));
        AddPairs(args, changes.AddIdempotency, i => i.Key, i => JsonSerializer.Serialize(i));
        args.Add(changes.DeleteIdempotency.Count);
        args.AddRange(changes.DeleteIdempotency.Select(k => (RedisValue)k));
        long outcome = (long)await Db.ScriptEvaluateAsync(RedisScripts.Commit, Keys(name), [.. args]);
        if (outcome == -1)
            throw new OwnershipLostException(name, epoch);
        if (outcome == -2)
            throw new CommitOutOfOrderException(name, epoch, sequence);
    }

    public async Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken) =>
        await Db.ScriptEvaluateAsync(RedisScripts.Release, Keys(name), [name, epoch]);

    public async Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken)
    {
        var all = await Db.HashGetAllAsync(_owners);
        return [.. all.Select(e => ((string)e.Name!, (string)e.Value!)).OrderBy(o => o.Item1, StringComparer.Ordinal)];
    }

    public async Task PingAsync(CancellationToken cancellationToken) => await Db.PingAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _redis, null) is { } redis)
            await redis.DisposeAsync();
    }

    private static void AddPairs<T>(List<RedisValue> args, List<T> items, Func<T, RedisValue> key, Func<T, string> value)
    {
        args.Add(items.Count);
        foreach (var item in items)
        {
            args.Add(key(item));
            args.Add(value(item));
        }
    }

    private static List<T> Records<T>(RedisResult values) =>
        [.. ((RedisResult[])values!).Select(v => JsonSerializer.Deserialize<T>((string)v!)!)];

    private static ResourceDefinition ParseDefinition(string name, string stored)
    {
        var definition = JsonSerializer.Deserialize<StoredDefinition>(stored)!;
        return new ResourceDefinition(name, PolicyJson.Deserialize(definition.Policy), definition.PushEnabled);
    }

    private sealed record StoredDefinition(string Policy, bool PushEnabled);

    [LoggerMessage(LogLevel.Warning, "Redis runs with appendonly={AppendOnly} and appendfsync={AppendFsync}: a Redis crash can lose committed grants. Run it with appendonly yes and appendfsync always for the durability the silo promises.")]
    private partial void LogNotDurable(string appendOnly, string appendFsync);
}
