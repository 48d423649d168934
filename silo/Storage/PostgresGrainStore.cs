using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using OrleansQueue.Grains;
using OrleansQueue.Grains.Persistence;
using OrleansQueue.Silo.Observability;

namespace OrleansQueue.Silo.Storage;

/// <summary>
/// The cluster store: grain state, resource ownership and silo membership in one PostgreSQL database that every silo
/// shares. The database is the only arbiter: a claim takes the resource's row lock and a new epoch from a sequence;
/// a commit writes only while its epoch is still the row's (under the same row lock), so a stale owner's write is
/// refused whatever the silos believe. Heartbeats are stamped with the database's clock and judged against it.
/// </summary>
public sealed class PostgresGrainStore(string connectionString, TimeProvider? time = null, SiloMetrics? metrics = null) : IGrainStore, IMembershipStore
{
    private readonly NpgsqlDataSource _data = NpgsqlDataSource.Create(connectionString);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(PostgresSchema.Create, connection, transaction))
            await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT name, policy, push_enabled FROM resources ORDER BY name", [], ReadDefinition, cancellationToken);

    public async Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken) =>
        (await QueryAsync("SELECT name, policy, push_enabled FROM resources WHERE name = $1", [name], ReadDefinition, cancellationToken)).SingleOrDefault();

    public async Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        var created = await QueryAsync("""
            INSERT INTO resources(name, policy, push_enabled) VALUES($1, $2, $3)
            ON CONFLICT(name) DO UPDATE SET policy = excluded.policy, push_enabled = excluded.push_enabled
            RETURNING xmax = 0
            """, [definition.Name, PolicyJson.Serialize(definition.Policy), definition.PushEnabled], r => r.GetBoolean(0), cancellationToken);
        return created.Single();
    }

    public async Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("DELETE FROM resources WHERE name = $1", name));
        foreach (string table in new[] { "requests", "window_log", "idempotency", "jobs" })
            batch.BatchCommands.Add(Command($"DELETE FROM {table} WHERE resource = $1", name));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        bool existed = batch.BatchCommands[0].RecordsAffected > 0;
        await transaction.CommitAsync(cancellationToken);
        return existed;
    }

    public async Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The update takes the row lock: a commit under the old epoch waits for it, then finds its epoch gone. Every
        // statement after it in this transaction sees whatever the old owner committed before.
        var heads = await QueryAsync(connection, transaction, """
            WITH previous AS (SELECT owner FROM resources WHERE name = $1 FOR UPDATE)
            UPDATE resources SET owner = $2, epoch = nextval('epochs') WHERE name = $1
            RETURNING epoch, policy, last_id, last_fencing, window_next_seq,
                GREATEST(saved_at, COALESCE((SELECT s.alive_at FROM silos s, previous p WHERE s.id = p.owner), 0))
            """, [name, owner],
            r => (Epoch: r.GetInt64(0), Policy: PolicyJson.Deserialize(r.GetString(1)), LastId: r.GetInt64(2), Fencing: r.GetInt64(3),
                NextSeq: r.GetInt64(4), SavedAt: r.GetInt64(5)), cancellationToken);
        if (heads.Count == 0)
            return null;
        var head = heads[0];

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            SELECT id, client, load, priority, level, state, enqueued_at, wait_deadline, timer_at, fencing, granted_at, window_seq, queue_seq
            FROM requests WHERE resource = $1
            """, name));
        batch.BatchCommands.Add(Command("SELECT seq, at, load, requests FROM window_log WHERE resource = $1 ORDER BY seq", name));
        batch.BatchCommands.Add(Command("SELECT record FROM jobs WHERE resource = $1", name));
        batch.BatchCommands.Add(Command("SELECT key, request_id, outcome, fencing, expires_at, created_at FROM idempotency WHERE resource = $1", name));
        var requests = new List<RequestRecord>();
        var window = new List<WindowRecord>();
        var jobs = new List<JobRecord>();
        var idempotency = new List<IdempotencyRecord>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                requests.Add(new RequestRecord(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), (Priority)reader.GetInt32(3),
                    reader.GetInt32(4), (RequestStatusKind)reader.GetInt32(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8),
                    reader.GetInt64(9), reader.GetInt64(10), reader.GetInt64(11), reader.GetInt64(12)));
            }
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                window.Add(new WindowRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt32(3)));
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                jobs.Add(JsonSerializer.Deserialize<JobRecord>(reader.GetString(0))!);
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                idempotency.Add(new IdempotencyRecord(reader.GetString(0), reader.GetInt64(1), (AcquireOutcome)reader.GetInt32(2),
                    reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
            }
        }
        await transaction.CommitAsync(cancellationToken);
        var snapshot = new GrainSnapshot
        {
            Policy = head.Policy, LastId = head.LastId, LastFencingToken = head.Fencing, WindowNextSeq = head.NextSeq, SavedAt = head.SavedAt,
            Requests = requests, Jobs = jobs, Window = window, Idempotency = idempotency,
        };
        return new ClaimedGrain(snapshot, head.Epoch);
    }

    public async Task CommitAsync(string name, long epoch, GrainChanges c, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The gate: the head row is written only under the current epoch (waiting for a claim's row lock, if one is
        // under way), and nothing else is written without it.
        await using (var gate = new NpgsqlCommand("""
            UPDATE resources SET last_id = $3, last_fencing = $4, window_next_seq = $5, saved_at = $6, policy = COALESCE($7, policy)
            WHERE name = $1 AND epoch = $2
            """, connection, transaction))
        {
            gate.Parameters.Add(new() { Value = name });
            gate.Parameters.Add(new() { Value = epoch });
            gate.Parameters.Add(new() { Value = c.LastId });
            gate.Parameters.Add(new() { Value = c.LastFencingToken });
            gate.Parameters.Add(new() { Value = c.WindowNextSeq });
            gate.Parameters.Add(new() { Value = c.SavedAt });
            gate.Parameters.Add(new() { Value = c.Policy is null ? DBNull.Value : PolicyJson.Serialize(c.Policy), NpgsqlDbType = NpgsqlDbType.Text });
            if (await gate.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                bool exists = (await QueryAsync(connection, transaction, "SELECT 1 FROM resources WHERE name = $1", [name], r => 1, cancellationToken)).Count > 0;
                await transaction.RollbackAsync(cancellationToken);
                if (exists)
                    throw new OwnershipLostException(name, epoch);
                return; // deleted while the grain ran its last turn
            }
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        if (c.UpsertRequests.Count > 0)
        {
            var r = c.UpsertRequests;
            batch.BatchCommands.Add(Command("""
                INSERT INTO requests(resource, id, client, load, priority, level, state, enqueued_at, wait_deadline, timer_at, fencing,
                    granted_at, window_seq, queue_seq)
                SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::int[], $8::bigint[], $9::bigint[],
                    $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
                ON CONFLICT(resource, id) DO UPDATE SET client = excluded.client, load = excluded.load, priority = excluded.priority,
                    level = excluded.level, state = excluded.state, enqueued_at = excluded.enqueued_at, wait_deadline = excluded.wait_deadline,
                    timer_at = excluded.timer_at, fencing = excluded.fencing, granted_at = excluded.granted_at, window_seq = excluded.window_seq,
                    queue_seq = excluded.queue_seq
                """, name, r.Select(x => x.Id).ToArray(), r.Select(x => x.ClientId).ToArray(), r.Select(x => x.Load).ToArray(),
                r.Select(x => (int)x.Priority).ToArray(), r.Select(x => x.Level).ToArray(), r.Select(x => (int)x.State).ToArray(),
                r.Select(x => x.EnqueuedAt).ToArray(), r.Select(x => x.WaitDeadline).ToArray(), r.Select(x => x.TimerAt).ToArray(),
                r.Select(x => x.FencingToken).ToArray(), r.Select(x => x.GrantedAt).ToArray(), r.Select(x => x.WindowSeq).ToArray(),
                r.Select(x => x.QueueSeq).ToArray()));
        }
        if (c.UpsertJobs.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO jobs(resource, id, record) SELECT $1, * FROM unnest($2::bigint[], $3::text[])
                ON CONFLICT(resource, id) DO UPDATE SET record = excluded.record
                """, name, c.UpsertJobs.Select(j => j.Id).ToArray(), c.UpsertJobs.Select(j => JsonSerializer.Serialize(j)).ToArray()));
        }
        if (c.DeleteRequests.Count > 0)
        {
            var ids = c.DeleteRequests.ToArray();
            batch.BatchCommands.Add(Command("DELETE FROM requests WHERE resource = $1 AND id = ANY($2)", name, ids));
            batch.BatchCommands.Add(Command("DELETE FROM jobs WHERE resource = $1 AND id = ANY($2)", name, ids));
        }
        if (c.UpsertWindow.Count > 0)
        {
            var w = c.UpsertWindow;
            batch.BatchCommands.Add(Command("""
                INSERT INTO window_log(resource, seq, at, load, requests) SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::int[])
                ON CONFLICT(resource, seq) DO UPDATE SET at = excluded.at, load = excluded.load, requests = excluded.requests
                """, name, w.Select(x => x.Seq).ToArray(), w.Select(x => x.At).ToArray(), w.Select(x => x.Load).ToArray(), w.Select(x => x.Requests).ToArray()));
        }
        batch.BatchCommands.Add(Command("DELETE FROM window_log WHERE resource = $1 AND seq < $2", name, c.WindowHeadSeq));
        if (c.AddIdempotency.Count > 0)
        {
            var i = c.AddIdempotency;
            batch.BatchCommands.Add(Command("""
                INSERT INTO idempotency(resource, key, request_id, outcome, fencing, expires_at, created_at)
                SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[])
                ON CONFLICT(resource, key) DO UPDATE SET request_id = excluded.request_id, outcome = excluded.outcome, fencing = excluded.fencing,
                    expires_at = excluded.expires_at, created_at = excluded.created_at
                """, name, i.Select(x => x.Key).ToArray(), i.Select(x => x.RequestId).ToArray(), i.Select(x => (int)x.Outcome).ToArray(),
                i.Select(x => x.FencingToken).ToArray(), i.Select(x => x.ExpiresAt).ToArray(), i.Select(x => x.CreatedAt).ToArray()));
        }
        if (c.DeleteIdempotency.Count > 0)
            batch.BatchCommands.Add(Command("DELETE FROM idempotency WHERE resource = $1 AND key = ANY($2)", name, c.DeleteIdempotency.ToArray()));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        metrics?.StoreCommitted(Stopwatch.GetElapsedTime(started), 1);
    }

    public async Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken) =>
        await QueryAsync("UPDATE resources SET owner = NULL WHERE name = $1 AND epoch = $2 RETURNING 1", [name, epoch], r => 1, cancellationToken);

    public async Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT name, owner FROM resources WHERE owner IS NOT NULL ORDER BY name", [], r => (r.GetString(0), r.GetString(1)), cancellationToken);

    public async Task<IReadOnlyList<SiloEntry>> HeartbeatAsync(SiloEntry silo, TimeSpan deadAfter, CancellationToken cancellationToken)
    {
        // One statement: the row's new heartbeat and the live others, judged by the database's clock.
        var others = await QueryAsync("""
            WITH beat AS (
                INSERT INTO silos(id, address, heartbeat_at, alive_at) VALUES($1, $2, now(), $3)
                ON CONFLICT(id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at, alive_at = excluded.alive_at
                RETURNING id)
            SELECT id, address FROM silos WHERE heartbeat_at > now() - $4 AND id NOT IN (SELECT id FROM beat)
            """, [silo.Id, silo.Address, _time.GetUtcNow().UtcTicks, deadAfter], r => new SiloEntry(r.GetString(0), r.GetString(1)), cancellationToken);
        return [.. others.Append(silo).OrderBy(s => s.Id, StringComparer.Ordinal)];
    }

    public async Task LeaveAsync(string siloId, CancellationToken cancellationToken) =>
        await QueryAsync("UPDATE silos SET heartbeat_at = '-infinity', alive_at = $2 WHERE id = $1 RETURNING 1",
            [siloId, _time.GetUtcNow().UtcTicks], r => 1, cancellationToken);

    public async Task PingAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT value FROM meta WHERE key = 'schema_version'", [], r => r.GetInt64(0), cancellationToken);

    public ValueTask DisposeAsync() => _data.DisposeAsync();

    private static ResourceDefinition ReadDefinition(NpgsqlDataReader r) =>
        new(r.GetString(0), PolicyJson.Deserialize(r.GetString(1)), r.GetBoolean(2));

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (object value in values)
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }

    private async Task<List<T>> QueryAsync<T>(string sql, object[] values, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null, sql, values, map, cancellationToken);
    }

    private static async Task<List<T>> QueryAsync<T>(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object[] values,
        Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (object value in values)
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(map(reader));
        return list;
    }
}
