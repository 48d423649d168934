namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The Lua scripts of <see cref="RedisGrainStore"/>. KEYS, for every script: 1 meta, 2 requests, 3 jobs, 4 window,
/// 5 idempotency (the resource's own tables), 6 definitions, 7 owners, 8 the epoch sequence (shared by all resources, so a
/// deleted and re-created resource never reuses an epoch), 9 heartbeats, 10 the resource's change log (a list of records,
/// each its batch number, 8 bytes big-endian, then the record), 11 the jobs' output (a hash: job id → all its output so
/// far, since a job's chunks always follow on from each other). Epochs are compared as the decimal strings they are stored as.
/// </summary>
internal static class RedisScripts
{
    /// <summary>ARGV: name, stored definition, policy. Returns 1 when the resource was created.</summary>
    public const string Put = """
        local created = redis.call('HSETNX', KEYS[6], ARGV[1], ARGV[2])
        if created == 0 then redis.call('HSET', KEYS[6], ARGV[1], ARGV[2]) end
        if redis.call('EXISTS', KEYS[1]) == 0 then
          redis.call('HSET', KEYS[1], 'policy', ARGV[3], 'last_id', '0', 'last_fencing', '0', 'window_next_seq', '0', 'saved_at', '0', 'epoch', '0')
        else
          redis.call('HSET', KEYS[1], 'policy', ARGV[3])
        end
        return created
        """;

    /// <summary>ARGV: name. Returns 1 when the resource existed.</summary>
    public const string Delete = """
        local existed = redis.call('HDEL', KEYS[6], ARGV[1])
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[10], KEYS[11])
        redis.call('HDEL', KEYS[7], ARGV[1])
        return existed
        """;

    /// <summary>ARGV: name, owner. Takes the resource under a new epoch (from now on no earlier owner appends). Returns nil
    /// for a missing resource, else {epoch, the previous owner's last heartbeat (-1: none), the last batch's number}.</summary>
    public const string Claim = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        local previous = redis.call('HGET', KEYS[7], ARGV[1])
        local alive = '-1'
        if previous then alive = redis.call('HGET', KEYS[9], previous) or '0' end
        local epoch = redis.call('INCR', KEYS[8])
        redis.call('HSET', KEYS[1], 'epoch', tostring(epoch))
        redis.call('HSET', KEYS[7], ARGV[1], ARGV[2])
        return { epoch, alive, redis.call('HGET', KEYS[1], 'seq') or '0' }
        """;

    /// <summary>Returns nil for a missing resource, else {meta pairs, requests, jobs, window, idempotency, the log's length,
    /// output pairs}.</summary>
    public const string Tables = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        return { redis.call('HGETALL', KEYS[1]), redis.call('HVALS', KEYS[2]), redis.call('HVALS', KEYS[3]),
                 redis.call('ZRANGE', KEYS[4], 0, -1), redis.call('HVALS', KEYS[5]), redis.call('LLEN', KEYS[10]),
                 redis.call('HGETALL', KEYS[11]) }
        """;

    /// <summary>Returns nil for a missing resource, else {the tables' last request id, the log's records}.</summary>
    public const string ReadLog = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        return { redis.call('HGET', KEYS[1], 'last_id'), redis.call('LRANGE', KEYS[10], 0, -1) }
        """;

    /// <summary>KEYS: the heartbeats, the owners. ARGV: owner, alive at, prune before. Records the owner's heartbeat; the
    /// heartbeats of silos that own nothing and were last heard of before the third argument are dropped.</summary>
    public const string Heartbeat = """
        local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
        if ARGV[3] ~= '0' then
          local owning = {}
          for _, o in ipairs(redis.call('HVALS', KEYS[2])) do owning[o] = true end
          local all = redis.call('HGETALL', KEYS[1])
          for i = 1, #all, 2 do
            if not owning[all[i]] and tonumber(all[i + 1]) < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
          end
        end
        return 1
        """;

    /// <summary>
    /// A grain's batch, appended to the resource's change log. ARGV: epoch, the batch's number, its log entry, policy (''
    /// when unchanged; rare, and what the catalog reads, so written to the resource at once). Returns the log's length when
    /// appended, 0 when the resource is gone (the batch is dropped), -1 when a later claim took it, -2 when the batch
    /// numbered before it did not land (nothing written for either).
    /// </summary>
    public const string Commit = """
        local current = redis.call('HGET', KEYS[1], 'epoch')
        if not current then return 0 end
        if current ~= ARGV[1] then return -1 end
        if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') ~= tonumber(ARGV[2]) - 1 then return -2 end
        redis.call('HSET', KEYS[1], 'seq', ARGV[2])
        if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'policy', ARGV[4]) end
        return redis.call('RPUSH', KEYS[10], ARGV[3])
        """;

    /// <summary>
    /// Folds the log's first records into the tables and trims them, if the log still starts as it did when they were read
    /// (any owner may fold, at any time: folding changes what is stored in form, never in content). ARGV: the first entry
    /// read, how many entries were folded, last id, last fencing token, next window sequence, saved at, window head, then
    /// counted lists: request upserts (id, record), job upserts (id, record), deletions (id), window upserts (seq, record),
    /// idempotency additions (key, record), idempotency deletions (key), output appended (job id, offset in bytes, text: kept
    /// from its offset on, so a run folded again is not doubled). Returns 1 when folded, 0 when the log had moved on.
    /// </summary>
    public const string Fold = """
        if redis.call('LINDEX', KEYS[10], 0) ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'last_id', ARGV[3], 'last_fencing', ARGV[4], 'window_next_seq', ARGV[5], 'saved_at', ARGV[6])
        local head = ARGV[7]
        local i = 8
        local n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]); i = i + 2 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HDEL', KEYS[2], ARGV[i]); redis.call('HDEL', KEYS[3], ARGV[i]); redis.call('HDEL', KEYS[11], ARGV[i]); i = i + 1 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do
          redis.call('ZREMRANGEBYSCORE', KEYS[4], ARGV[i], ARGV[i])
          redis.call('ZADD', KEYS[4], ARGV[i], ARGV[i + 1])
          i = i + 2
        end
        if head ~= '0' then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. head) end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1]); i = i + 2 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HDEL', KEYS[5], ARGV[i]); i = i + 1 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do
          local before = redis.call('HGET', KEYS[11], ARGV[i]) or ''
          redis.call('HSET', KEYS[11], ARGV[i], string.sub(before, 1, tonumber(ARGV[i + 1])) .. ARGV[i + 2])
          i = i + 3
        end
        redis.call('LTRIM', KEYS[10], tonumber(ARGV[2]), -1)
        return 1
        """;

    /// <summary>ARGV: name, epoch. Gives the claim up if the epoch is still the resource's.</summary>
    public const string Release = """
        if redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then redis.call('HDEL', KEYS[7], ARGV[1]) end
        return 1
        """;
}
