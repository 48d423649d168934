using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;
using StackExchange.Redis;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The cluster store on Redis alone (with Redis clustering, a cluster needs nothing else). Each resource keeps a few keys
/// of its own: its tables (meta, requests, jobs, the jobs' output, window, idempotency) and its change log. A commit is one script that
/// appends the batch's record to the log, only while the batch's epoch is still the resource's and the batch numbered
/// before it landed; commits of grains committing at once are pipelined on the one multiplexed connection. Once a log
/// holds <c>compactAfter</c> records, and whenever the resource is claimed or given up, the store folds it into the tables
/// (read, folded here, written by a script that checks the log has not moved), off the path of any reply. Durable only
/// with Redis' append-only file and <c>appendfsync always</c>: the store says so in the log at start when the server runs
/// otherwise.
/// </summary>
/// <remarks>One Redis server (or a primary with replicas), not Redis Cluster: a resource's scripts also touch the global
/// keys (definitions, owners, the epoch sequence).</remarks>
internal sealed partial class RedisGrainStore(ConfigurationOptions configuration, ILogger<RedisGrainStore> logger, string keyPrefix = "oq", int compactAfter = 256) : IGrainStore
{
    private readonly string _definitions = keyPrefix + ":resources";
    private readonly string _owners = keyPrefix + ":owners";
    private readonly string _epochs = keyPrefix + ":epochs";
    private readonly string _heartbeats = keyPrefix + ":heartbeats";
    private readonly ConcurrentDictionary<string, byte> _compacting = new(StringComparer.Ordinal);
    private int _pruned;

    private ConnectionMultiplexer? _redis;

    private IDatabase Db => (_redis ?? throw new ObjectDisposedException(nameof(RedisGrainStore))).GetDatabase();

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var options = configuration.Clone();
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
            $"{keyPrefix}:{{{name}}}:idempotency", _definitions, _owners, _epochs, _heartbeats, $"{keyPrefix}:{{{name}}}:log",
            $"{keyPrefix}:{{{name}}}:output"];

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
        var claimed = await Db.ScriptEvaluateAsync(RedisScripts.Claim, Keys(name), [name, owner]);
        if (claimed.IsNull)
            return null;
        var answer = (RedisResult[])claimed!;
        long epoch = (long)answer[0], alive = (long)answer[1], sequence = (long)answer[2];
        // No earlier owner appends from now on: fold what they left, then read the tables alone. A later claim may append
        // meanwhile; then this claim is stale, and its commits are refused by epoch.
        for (int attempt = 0; ; attempt++)
        {
            await CompactAsync(name);
            var tables = await Db.ScriptEvaluateAsync(RedisScripts.Tables, Keys(name));
            if (tables.IsNull)
                return null;
            var parts = (RedisResult[])tables!;
            if ((long)parts[5] > 0 && attempt < 3)
                continue;
            var meta = ((RedisResult[])parts[0]!).Chunk(2).ToDictionary(p => (string)p[0]!, p => (string)p[1]!, StringComparer.Ordinal);
            var snapshot = new ResourceSnapshot
            {
                Policy = PolicyJson.Deserialize(meta["policy"]),
                LastId = long.Parse(meta["last_id"], CultureInfo.InvariantCulture),
                LastFencingToken = long.Parse(meta["last_fencing"], CultureInfo.InvariantCulture),
                WindowNextSeq = long.Parse(meta["window_next_seq"], CultureInfo.InvariantCulture),
                SavedAt = ClaimedGrain.LastAlive(long.Parse(meta["saved_at"], CultureInfo.InvariantCulture), alive),
                Requests = Records<RequestRecord>(parts[1]),
                Jobs = Records<JobRecord>(parts[2]),
                Window = Records<WindowRecord>(parts[3]),
                Idempotency = Records<IdempotencyRecord>(parts[4]),
                Output = [.. ((RedisResult[])parts[6]!).Chunk(2).Select(p => new JobOutputChunk((long)p[0], 0, (string)p[1]!))],
            };
            return new ClaimedGrain(snapshot, epoch, sequence);
        }
    }

    public async Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        // A deleted resource's keys are gone: no epoch, so no owner.
        var current = await Db.HashGetAsync(Keys(name)[0], "epoch");
        if (current != epoch.ToString(CultureInfo.InvariantCulture))
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
        byte[] record = ChangeRecord.Encode(changes);
        byte[] entry = new byte[8 + record.Length];
        BinaryPrimitives.WriteInt64BigEndian(entry, sequence);
        record.CopyTo(entry, 8);
        long outcome = (long)await Db.ScriptEvaluateAsync(RedisScripts.Commit, Keys(name),
            [epoch, sequence, entry, changes.Policy is { } policy ? PolicyJson.Serialize(policy) : ""]);
        if (outcome == -1)
            throw new OwnershipLostException(name, epoch);
        if (outcome == -2)
            throw new CommitOutOfOrderException(name, epoch, sequence);
        if (outcome >= compactAfter)
            CompactInBackground(name);
    }

    public async Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        await Db.ScriptEvaluateAsync(RedisScripts.Release, Keys(name), [name, epoch]);
        await CompactAsync(name);
    }

    /// <summary>Folds the resource's log in the background, once at a time per resource; a failure leaves the log as it was
    /// (folded on the next claim, or the next time it is due).</summary>
    private void CompactInBackground(string name)
    {
        if (!_compacting.TryAdd(name, 0))
            return;
        _ = Task.Run(async () =>
        {
            try
            {
                await CompactAsync(name);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidDataException)
            {
                if (_redis is not null)
                    LogCompactionFailed(ex, name);
            }
            finally
            {
                _compacting.TryRemove(name, out _);
            }
        });
    }

    /// <summary>Folds the resource's change log into its tables and trims what was folded. Nothing happens when the log moved
    /// meanwhile (another owner folded it): what is left is folded next time.</summary>
    private async Task CompactAsync(string name)
    {
        var read = await Db.ScriptEvaluateAsync(RedisScripts.ReadLog, Keys(name));
        if (read.IsNull)
            return;
        var parts = (RedisResult[])read!;
        var entries = (byte[][])parts[1]!;
        if (entries.Length == 0)
            return;
        long tablesLastId = parts[0].IsNull ? 0 : (long)parts[0];
        var folded = ChangeFold.Fold(entries.Select(e => ChangeRecord.Decode(e.AsSpan(8))), tablesLastId)!;
        var args = new List<RedisValue>
        {
            entries[0], entries.Length, folded.LastId, folded.LastFencingToken, folded.WindowNextSeq, folded.SavedAt, folded.WindowHeadSeq,
        };
        AddPairs(args, folded.UpsertRequests, r => r.Id, r => JsonSerializer.Serialize(r));
        AddPairs(args, folded.UpsertJobs, j => j.Id, j => JsonSerializer.Serialize(j));
        args.Add(folded.DeleteRequests.Count);
        args.AddRange(folded.DeleteRequests.Select(id => (RedisValue)id));
        AddPairs(args, folded.UpsertWindow, w => w.Seq, w => JsonSerializer.Serialize(w));
        AddPairs(args, folded.AddIdempotency, i => i.Key, i => JsonSerializer.Serialize(i));
        args.Add(folded.DeleteIdempotency.Count);
        args.AddRange(folded.DeleteIdempotency.Select(k => (RedisValue)k));
        args.Add(folded.AppendOutput.Count);
        foreach (var o in folded.AppendOutput)
            args.AddRange([o.JobId, o.Offset, o.Text]);
        await Db.ScriptEvaluateAsync(RedisScripts.Fold, Keys(name), [.. args]);
    }

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

    [LoggerMessage(LogLevel.Warning, "Folding the change log of resource {Name} into its tables failed; it is tried again later")]
    private partial void LogCompactionFailed(Exception exception, string name);

    [LoggerMessage(LogLevel.Warning, "Redis runs with appendonly={AppendOnly} and appendfsync={AppendFsync}: a Redis crash can lose committed grants. Run it with appendonly yes and appendfsync always for the durability the silo promises.")]
    private partial void LogNotDurable(string appendOnly, string appendFsync);
}
