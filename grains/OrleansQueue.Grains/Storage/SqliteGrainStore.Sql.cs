using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OrleansQueue.Scheduling;
using Priority = OrleansQueue.Scheduling.Priority; // the scheduler's, not the wire's
using OrleansQueue.Scheduling.Persistence;

namespace OrleansQueue.Grains.Storage;

internal sealed partial class SqliteGrainStore
{
    private void Apply(PendingWrite write, SqliteTransaction transaction)
    {
        switch (write.Kind)
        {
            case "heartbeat":
                Run(transaction, """
                    INSERT INTO heartbeats(owner, alive_at) VALUES($owner, $at)
                    ON CONFLICT(owner) DO UPDATE SET alive_at = MAX(alive_at, excluded.alive_at)
                    """, ("$owner", write.Owner), ("$at", write.PreviousOwnerAlive));
                if (!_pruned)
                {
                    // Once per store: forget the silos that own nothing and have not been heard of for a week.
                    _pruned = true;
                    Run(transaction, "DELETE FROM heartbeats WHERE alive_at < $before AND owner NOT IN (SELECT owner FROM resources WHERE owner IS NOT NULL)",
                        ("$before", write.PreviousOwnerAlive - TimeSpan.FromDays(7).Ticks));
                }
                break;
            case "put":
                var d = write.Definition!;
                int updated = Run(transaction, "UPDATE resources SET policy = $policy, push_enabled = $push WHERE name = $name",
                    ("$policy", PolicyJson.Serialize(d.Policy)), ("$push", d.PushEnabled ? 1 : 0), ("$name", d.Name));
                if (updated == 0)
                {
                    Run(transaction, "INSERT INTO resources(name, policy, push_enabled) VALUES($name, $policy, $push)",
                        ("$policy", PolicyJson.Serialize(d.Policy)), ("$push", d.PushEnabled ? 1 : 0), ("$name", d.Name));
                }
                write.Created = updated == 0;
                break;
            case "delete":
                write.Created = Run(transaction, "DELETE FROM resources WHERE name = $name", ("$name", write.Name)) > 0;
                Run(transaction, "DELETE FROM requests WHERE resource = $name", ("$name", write.Name));
                Run(transaction, "DELETE FROM window_log WHERE resource = $name", ("$name", write.Name));
                Run(transaction, "DELETE FROM idempotency WHERE resource = $name", ("$name", write.Name));
                Run(transaction, "DELETE FROM jobs WHERE resource = $name", ("$name", write.Name));
                Run(transaction, "DELETE FROM job_output WHERE resource = $name", ("$name", write.Name));
                Run(transaction, "DELETE FROM change_log WHERE resource = $name", ("$name", write.Name));
                _uncompacted.Remove(write.Name);
                _dueForCompaction.Remove(write.Name);
                break;
            case "claim":
                Compact(write.Name, transaction); // what the new owner reads is the tables alone
                write.PreviousOwnerAlive = Scalar(transaction, """
                    SELECT CASE WHEN r.owner IS NULL THEN -1 ELSE COALESCE(h.alive_at, 0) END
                    FROM resources r LEFT JOIN heartbeats h ON h.owner = r.owner WHERE r.name = $name
                    UNION ALL SELECT -1 LIMIT 1
                    """, ("$name", write.Name));
                Run(transaction, "UPDATE meta SET value = value + 1 WHERE key = 'last_epoch'");
                write.Epoch = Scalar(transaction, "SELECT value FROM meta WHERE key = 'last_epoch'");
                write.Created = Run(transaction, "UPDATE resources SET owner = $owner, epoch = $epoch WHERE name = $name",
                    ("$owner", write.Owner), ("$epoch", write.Epoch), ("$name", write.Name)) > 0;
                write.Sequence = Scalar(transaction, "SELECT COALESCE(MAX(log_seq), 0) FROM resources WHERE name = $name", ("$name", write.Name));
                break;
            case "release":
                Run(transaction, "UPDATE resources SET owner = NULL WHERE name = $name AND epoch = $epoch", ("$name", write.Name), ("$epoch", write.Epoch));
                Compact(write.Name, transaction);
                break;
            default:
                AppendCommit(write, transaction);
                break;
        }
    }

    /// <summary>A grain's commit: one record appended to the change log, under the resource's current epoch only.</summary>
    private void AppendCommit(PendingWrite write, SqliteTransaction transaction)
    {
        var (name, c) = (write.Name, write.Changes!);
        // The gate, read only (a commit writes nothing but its record): the resource's epoch must be this batch's, and its
        // last batch the one numbered just before it, in the log or, once folded, in the head row.
        var gate = Command(transaction, """
            SELECT epoch, MAX(log_seq, COALESCE((SELECT MAX(seq) FROM change_log WHERE resource = $name), 0))
            FROM resources WHERE name = $name
            """, "$name");
        Bind(gate, name);
        long epoch, last;
        using (var reader = gate.ExecuteReader())
        {
            if (!reader.Read())
                return; // deleted while the grain ran its last turn: its changes are dropped
            (epoch, last) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        if (epoch != write.Epoch)
        {
            write.Refused = new OwnershipLostException(name, write.Epoch);
            return;
        }
        if (last != write.Sequence - 1)
        {
            write.Refused = new CommitOutOfOrderException(name, write.Epoch, write.Sequence);
            return;
        }
        if (c.Policy is not null) // rare, and what the catalog reads: straight to the definition
            Run(transaction, "UPDATE resources SET policy = $policy WHERE name = $name", ("$policy", PolicyJson.Serialize(c.Policy)), ("$name", name));
        var append = Command(transaction, "INSERT INTO change_log(resource, seq, record) VALUES($r, $seq, $record)", "$r", "$seq", "$record");
        Bind(append, name, write.Sequence, ChangeRecord.Encode(c));
        append.ExecuteNonQuery();
        int pending = CollectionsMarshal.GetValueRefOrAddDefault(_uncompacted, name, out _) += 1;
        if (pending >= _compactAfter)
            _dueForCompaction.Add(name);
    }

    /// <summary>
    /// Folds the resource's change log into its tables and trims it. Any owner's records, at any time: the log holds only
    /// what was accepted, in order, so folding it changes what is stored in form, never in content.
    /// </summary>
    private void Compact(string name, SqliteTransaction transaction)
    {
        _uncompacted.Remove(name);
        var records = new List<ResourceChanges>();
        long lastSeq = 0;
        var read = Command(transaction, "SELECT seq, record FROM change_log WHERE resource = $r ORDER BY seq", "$r");
        Bind(read, name);
        using (var reader = read.ExecuteReader())
        {
            while (reader.Read())
            {
                lastSeq = reader.GetInt64(0);
                records.Add(ChangeRecord.Decode((byte[])reader.GetValue(1)));
            }
        }
        if (records.Count == 0)
            return;
        var folded = ChangeFold.Fold(records, Scalar(transaction, "SELECT COALESCE(MAX(last_id), 0) FROM resources WHERE name = $name", ("$name", name)))!;
        Run(transaction, """
            UPDATE resources SET last_id = $lastId, last_fencing = $fencing, window_next_seq = $next, saved_at = $saved,
                log_seq = $seq
            WHERE name = $name
            """, ("$lastId", folded.LastId), ("$fencing", folded.LastFencingToken), ("$next", folded.WindowNextSeq),
            ("$saved", folded.SavedAt), ("$seq", lastSeq), ("$name", name));
        ApplyRows(name, folded, transaction);
        Run(transaction, "DELETE FROM change_log WHERE resource = $r AND seq <= $seq", ("$r", name), ("$seq", lastSeq));
    }

    /// <summary>Writes the rows of <paramref name="c"/> into the resource's tables.</summary>
    private void ApplyRows(string name, ResourceChanges c, SqliteTransaction transaction)
    {
        if (c.UpsertRequests.Count > 0)
        {
            var upsert = Command(transaction, """
                INSERT OR REPLACE INTO requests(resource, id, client, load, priority, level, state, enqueued_at,
                    wait_deadline, timer_at, fencing, granted_at, window_seq, queue_seq)
                VALUES($r, $id, $client, $load, $priority, $level, $state, $enqueued, $deadline, $timer, $fencing,
                    $granted, $wseq, $qseq)
                """, "$r", "$id", "$client", "$load", "$priority", "$level", "$state", "$enqueued", "$deadline", "$timer",
                "$fencing", "$granted", "$wseq", "$qseq");
            foreach (var r in c.UpsertRequests)
            {
                Bind(upsert, name, r.Id, r.ClientId, r.Load, (int)r.Priority, r.Level, (int)r.State, r.EnqueuedAt,
                    r.WaitDeadline, r.TimerAt, r.FencingToken, r.GrantedAt, r.WindowSeq, r.QueueSeq);
                upsert.ExecuteNonQuery();
            }
        }
        if (c.UpsertJobs.Count > 0)
        {
            var upsert = Command(transaction, "INSERT OR REPLACE INTO jobs(resource, id, record) VALUES($r, $id, $record)", "$r", "$id", "$record");
            foreach (var job in c.UpsertJobs)
            {
                Bind(upsert, name, job.Id, JsonSerializer.Serialize(job));
                upsert.ExecuteNonQuery();
            }
        }
        if (c.AppendOutput.Count > 0)
        {
            var append = Command(transaction, "INSERT OR REPLACE INTO job_output(resource, job_id, offset, text) VALUES($r, $job, $offset, $text)",
                "$r", "$job", "$offset", "$text");
            foreach (var o in c.AppendOutput)
            {
                Bind(append, name, o.JobId, o.Offset, o.Text);
                append.ExecuteNonQuery();
            }
        }
        if (c.DeleteRequests.Count > 0)
        {
            var delete = Command(transaction, "DELETE FROM requests WHERE resource = $r AND id = $id", "$r", "$id");
            var deleteJob = Command(transaction, "DELETE FROM jobs WHERE resource = $r AND id = $id", "$r", "$id");
            var deleteOutput = Command(transaction, "DELETE FROM job_output WHERE resource = $r AND job_id = $id", "$r", "$id");
            foreach (long id in c.DeleteRequests)
            {
                Bind(delete, name, id);
                delete.ExecuteNonQuery();
                Bind(deleteJob, name, id);
                deleteJob.ExecuteNonQuery();
                Bind(deleteOutput, name, id);
                deleteOutput.ExecuteNonQuery();
            }
        }
        if (c.UpsertWindow.Count > 0)
        {
            var upsert = Command(transaction,
                "INSERT OR REPLACE INTO window_log(resource, seq, at, load, requests) VALUES($r, $seq, $at, $load, $requests)",
                "$r", "$seq", "$at", "$load", "$requests");
            foreach (var w in c.UpsertWindow)
            {
                Bind(upsert, name, w.Seq, w.At, w.Load, w.Requests);
                upsert.ExecuteNonQuery();
            }
        }
        Run(transaction, "DELETE FROM window_log WHERE resource = $r AND seq < $head", ("$r", name), ("$head", c.WindowHeadSeq));
        if (c.AddIdempotency.Count > 0)
        {
            var add = Command(transaction, """
                INSERT OR REPLACE INTO idempotency(resource, key, request_id, outcome, fencing, expires_at, created_at, client, load, priority, granted_at)
                VALUES($r, $key, $id, $outcome, $fencing, $expires, $created, $client, $load, $priority, $granted)
                """, "$r", "$key", "$id", "$outcome", "$fencing", "$expires", "$created", "$client", "$load", "$priority", "$granted");
            foreach (var i in c.AddIdempotency)
            {
                Bind(add, name, i.Key, i.RequestId, (int)i.Outcome, i.FencingToken, i.ExpiresAt, i.CreatedAt, i.ClientId, i.Load, (int)i.Priority, i.GrantedAt);
                add.ExecuteNonQuery();
            }
        }
        if (c.DeleteIdempotency.Count > 0)
        {
            var delete = Command(transaction, "DELETE FROM idempotency WHERE resource = $r AND key = $key", "$r", "$key");
            foreach (string key in c.DeleteIdempotency)
            {
                Bind(delete, name, key);
                delete.ExecuteNonQuery();
            }
        }
    }

    public async Task<IReadOnlyList<ResourceDefinition>> ListResourcesAsync(CancellationToken cancellationToken) =>
        await ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name, policy, push_enabled FROM resources ORDER BY name";
            using var reader = command.ExecuteReader();
            var list = new List<ResourceDefinition>();
            while (reader.Read())
                list.Add(new(reader.GetString(0), PolicyJson.Deserialize(reader.GetString(1)), reader.GetInt64(2) != 0));
            return list;
        }, cancellationToken);

    public async Task<ResourceDefinition?> GetResourceAsync(string name, CancellationToken cancellationToken) =>
        await ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name, policy, push_enabled FROM resources WHERE name = $name";
            command.Parameters.AddWithValue("$name", name);
            using var reader = command.ExecuteReader();
            return reader.Read() ? new ResourceDefinition(reader.GetString(0), PolicyJson.Deserialize(reader.GetString(1)), reader.GetInt64(2) != 0) : null;
        }, cancellationToken);

    public async Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken) =>
        await ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name, owner FROM resources WHERE owner IS NOT NULL ORDER BY name";
            using var reader = command.ExecuteReader();
            var list = new List<(string, string)>();
            while (reader.Read())
                list.Add((reader.GetString(0), reader.GetString(1)));
            return list;
        }, cancellationToken);

    private async Task<ResourceSnapshot?> LoadAsync(string name, CancellationToken cancellationToken) =>
        await ReadAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            using var head = connection.CreateCommand();
            head.Transaction = transaction;
            head.CommandText = """
                SELECT policy, last_id, last_fencing, window_next_seq, saved_at
                FROM resources WHERE name = $name
                """;
            head.Parameters.AddWithValue("$name", name);
            ResourcePolicy policy;
            long lastId, fencing, nextSeq, savedAt;
            using (var reader = head.ExecuteReader())
            {
                if (!reader.Read())
                    return null;
                policy = PolicyJson.Deserialize(reader.GetString(0));
                (lastId, fencing, nextSeq) = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
                savedAt = reader.GetInt64(4);
            }
            var requests = Query(connection, transaction, name, """
                SELECT id, client, load, priority, level, state, enqueued_at, wait_deadline, timer_at, fencing,
                       granted_at, window_seq, queue_seq
                FROM requests WHERE resource = $name
                """, r => new RequestRecord(r.GetInt64(0), r.GetString(1), r.GetInt64(2), (Priority)r.GetInt32(3), r.GetInt32(4),
                    (RequestStatusKind)r.GetInt32(5), r.GetInt64(6), r.GetInt64(7), r.GetInt64(8), r.GetInt64(9), r.GetInt64(10),
                    r.GetInt64(11), r.GetInt64(12)));
            var window = Query(connection, transaction, name,
                "SELECT seq, at, load, requests FROM window_log WHERE resource = $name ORDER BY seq",
                r => new WindowRecord(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt32(3)));
            var jobs = Query(connection, transaction, name, "SELECT record FROM jobs WHERE resource = $name",
                r => JsonSerializer.Deserialize<JobRecord>(r.GetString(0))!);
            var output = Query(connection, transaction, name,
                "SELECT job_id, offset, text FROM job_output WHERE resource = $name ORDER BY job_id, offset",
                r => new JobOutputChunk(r.GetInt64(0), r.GetInt64(1), r.GetString(2)));
            var idempotency = Query(connection, transaction, name,
                "SELECT key, request_id, outcome, fencing, expires_at, created_at, client, load, priority, granted_at FROM idempotency WHERE resource = $name",
                r => new IdempotencyRecord(r.GetString(0), r.GetInt64(1), (AcquireOutcome)r.GetInt32(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5),
                    r.GetString(6), r.GetInt64(7), (Priority)r.GetInt32(8), r.GetInt64(9)));
            return new ResourceSnapshot
            {
                Policy = policy, LastId = lastId, LastFencingToken = fencing, WindowNextSeq = nextSeq, SavedAt = savedAt,
                Requests = requests, Jobs = jobs, Output = output, Window = window, Idempotency = idempotency,
            };
        }, cancellationToken);

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        await _readLock.WaitAsync(cancellationToken);
        try
        {
            return read(_reader ?? throw new ObjectDisposedException(nameof(SqliteGrainStore), "The store is shut down."));
        }
        finally
        {
            _readLock.Release();
        }
    }

    private static List<T> Query<T>(SqliteConnection connection, SqliteTransaction transaction, string name, string sql, Func<SqliteDataReader, T> map)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$name", name);
        using var reader = command.ExecuteReader();
        var list = new List<T>();
        while (reader.Read())
            list.Add(map(reader));
        return list;
    }

    private long Scalar(SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = Command(transaction, sql, parameters.Select(p => p.Name).ToArray());
        for (int i = 0; i < parameters.Length; i++)
            command.Parameters[i].Value = parameters[i].Value;
        return Convert.ToInt64(command.ExecuteScalar());
    }

    private int Run(SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = Command(transaction, sql, parameters.Select(p => p.Name).ToArray());
        for (int i = 0; i < parameters.Length; i++)
            command.Parameters[i].Value = parameters[i].Value;
        return command.ExecuteNonQuery();
    }

    /// <summary>
    /// The writer connection's prepared statement for <paramref name="sql"/>, made once and reused by every later commit
    /// (only the writer loop touches it, one batch at a time): preparing a statement costs more than running it.
    /// </summary>
    private SqliteCommand Command(SqliteTransaction transaction, string sql, params string[] parameters)
    {
        if (!_prepared.TryGetValue(sql, out var command))
        {
            command = transaction.Connection!.CreateCommand();
            command.CommandText = sql;
            foreach (string parameter in parameters)
                command.Parameters.Add(new SqliteParameter { ParameterName = parameter });
            _prepared[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    private static void Bind(SqliteCommand command, params object[] values)
    {
        for (int i = 0; i < values.Length; i++)
            command.Parameters[i].Value = values[i];
    }
}
