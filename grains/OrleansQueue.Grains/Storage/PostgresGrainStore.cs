using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using OrleansQueue.Scheduling;
using Priority = OrleansQueue.Scheduling.Priority; // the scheduler's, not the wire's
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The cluster store: grain state and resource ownership in one PostgreSQL database that every silo shares (Orleans
/// keeps the membership). The database is the only arbiter: a claim takes the resource's row lock and a new epoch from a sequence;
/// a commit writes only while its epoch is still the row's (under the same row lock), so a stale owner's write is
/// refused whatever the silos believe. A commit is one row appended to the change log (the batch's binary record);
/// commits are grouped: every commit pending when the last transaction ended, from any grain, goes into the next one
/// (one WAL flush for all, three statements however many rows the batches touch), each still under its own epoch.
/// Once a resource's log holds <c>compactAfter</c> records, and whenever it is claimed or given up, the store folds
/// the log into the resource's tables under the resource's row lock, off the path of any reply.
/// </summary>
internal sealed partial class PostgresGrainStore : IGrainStore
{
    private readonly NpgsqlDataSource _data;
    private readonly TimeProvider _time;
    private readonly SiloMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly int _compactAfter;
    private readonly Dictionary<string, int> _uncompacted = new(StringComparer.Ordinal); // the committer's: records appended since the last fold
    private readonly ConcurrentDictionary<string, byte> _compacting = new(StringComparer.Ordinal);
    private readonly Channel<PendingCommit> _commits = Channel.CreateUnbounded<PendingCommit>(new() { SingleReader = true });
    private readonly Task _committer;
    private int _pruned;
    private Lazy<Task>? _closing;

    /// <param name="compactAfter">How many records a resource's change log gathers before they are folded into its tables.</param>
    public PostgresGrainStore(string connectionString, TimeProvider? time = null, SiloMetrics? metrics = null, ILogger? logger = null, int compactAfter = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(compactAfter, 1);
        _data = NpgsqlDataSource.Create(connectionString);
        _time = time ?? TimeProvider.System;
        _metrics = metrics;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _compactAfter = compactAfter;
        _committer = Task.Run(CommitLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Creates or upgrades the schema, unless it is current already: its DDL takes table locks that running silos' commits
    /// and folds wait behind (and they behind it), so a silo joining a running cluster must not run it for nothing. Two
    /// silos creating it at once take turns on an advisory lock; a deadlock with a running silo's commit is retried.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            if (await SchemaVersionAsync(connection, cancellationToken) >= PostgresSchema.Version)
                return;
            try
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var command = new NpgsqlCommand(PostgresSchema.Create, connection, transaction))
                    await command.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                // Nothing was created: the transaction rolled back. Try again.
            }
        }
    }

    private static async Task<long> SchemaVersionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            var version = await QueryAsync(connection, null, PostgresSchema.CurrentVersion, [], r => r.GetInt64(0), cancellationToken);
            return version.Count == 0 ? 0 : version[0];
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0; // a new database
        }
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
        foreach (string table in new[] { "requests", "window_log", "idempotency", "jobs", "job_output", "change_log" })
            batch.BatchCommands.Add(Command($"DELETE FROM {table} WHERE resource = $1", name));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        bool existed = batch.BatchCommands[0].RecordsAffected > 0;
        await transaction.CommitAsync(cancellationToken);
        return existed;
    }

    public async Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        var current = await QueryAsync("SELECT epoch FROM resources WHERE name = $1", [name], r => r.GetInt64(0), cancellationToken);
        if (current.Count == 0 || current[0] != epoch)
            throw new OwnershipLostException(name, epoch);
    }

    public async Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The update takes the row lock: a commit under the old epoch waits for it, then finds its epoch gone. Every
        // statement after it in this transaction sees whatever the old owner committed before.
        // The previous owner (read under the same row lock) and its last heartbeat: how long the resource went unrun.
        var claims = await QueryAsync(connection, transaction, """
            UPDATE resources r SET owner = $2, epoch = nextval('epochs')
            FROM (SELECT owner AS previous FROM resources WHERE name = $1 FOR UPDATE) p
            WHERE r.name = $1
            RETURNING r.epoch, CASE WHEN p.previous IS NULL THEN -1 ELSE COALESCE((SELECT alive_at FROM heartbeats WHERE owner = p.previous), 0) END, r.seq
            """, [name, owner], r => (Epoch: r.GetInt64(0), Alive: r.GetInt64(1), Seq: r.GetInt64(2)), cancellationToken);
        if (claims.Count == 0)
            return null;
        var claim = claims[0];
        // Under the row lock no earlier owner appends: fold what they left, then read the tables alone.
        await CompactAsync(connection, transaction, name, cancellationToken);
        var head = (await QueryAsync(connection, transaction,
            "SELECT policy, last_id, last_fencing, window_next_seq, saved_at FROM resources WHERE name = $1", [name],
            r => (Policy: PolicyJson.Deserialize(r.GetString(0)), LastId: r.GetInt64(1), Fencing: r.GetInt64(2), NextSeq: r.GetInt64(3),
                SavedAt: ClaimedGrain.LastAlive(r.GetInt64(4), claim.Alive)), cancellationToken))[0];

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            SELECT id, client, load, priority, level, state, enqueued_at, wait_deadline, timer_at, fencing, granted_at, window_seq, queue_seq
            FROM requests WHERE resource = $1
            """, name));
        batch.BatchCommands.Add(Command("SELECT seq, at, load, requests FROM window_log WHERE resource = $1 ORDER BY seq", name));
        batch.BatchCommands.Add(Command("SELECT record FROM jobs WHERE resource = $1", name));
        batch.BatchCommands.Add(Command("SELECT key, request_id, outcome, fencing, expires_at, created_at, client, load, priority, granted_at FROM idempotency WHERE resource = $1", name));
        batch.BatchCommands.Add(Command("""SELECT job_id, "offset", text FROM job_output WHERE resource = $1 ORDER BY job_id, "offset" """, name));
        var output = new List<JobOutputChunk>();
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
                    reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetString(6), reader.GetInt64(7), (Priority)reader.GetInt32(8),
                    reader.GetInt64(9)));
            }
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                output.Add(new JobOutputChunk(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2)));
        }
        await transaction.CommitAsync(cancellationToken);
        var snapshot = new ResourceSnapshot
        {
            Policy = head.Policy, LastId = head.LastId, LastFencingToken = head.Fencing, WindowNextSeq = head.NextSeq, SavedAt = head.SavedAt,
            Requests = requests, Jobs = jobs, Output = output, Window = window, Idempotency = idempotency,
        };
        return new ClaimedGrain(snapshot, claim.Epoch, claim.Seq);
    }

    public async Task HeartbeatAsync(string owner, long aliveAt, CancellationToken cancellationToken)
    {
        await QueryAsync("""
            INSERT INTO heartbeats(owner, alive_at) VALUES($1, $2)
            ON CONFLICT(owner) DO UPDATE SET alive_at = GREATEST(heartbeats.alive_at, excluded.alive_at)
            RETURNING 1
            """, [owner, aliveAt], r => r.GetInt32(0), cancellationToken);
        // Once per store: forget the silos that own nothing and have not been heard of for a week.
        if (Interlocked.Exchange(ref _pruned, 1) == 0)
        {
            await QueryAsync("""
                DELETE FROM heartbeats h WHERE alive_at < $1 AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.owner = h.owner)
                RETURNING 1
                """, [aliveAt - TimeSpan.FromDays(7).Ticks], r => r.GetInt32(0), cancellationToken);
        }
    }

    /// <summary>Yes: a batch's rows are written only in the transaction that moved the resource's last batch number on to
    /// it, and the committer writes a resource's batches in the order they came, one a transaction.</summary>
    public bool PipelinesCommits => true;

    /// <summary>Queues the batch for the committer, which writes every commit pending at that moment in one transaction;
    /// after the store is closed, the task fails (it never throws here).</summary>
    public Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken cancellationToken)
    {
        var commit = new PendingCommit(name, epoch, sequence, changes);
        return _commits.Writer.TryWrite(commit)
            ? commit.Done.Task
            : Task.FromException(new ObjectDisposedException(nameof(PostgresGrainStore), "The store is shut down."));
    }

    /// <summary>
    /// Group commit across grains: one transaction, and so one WAL flush, for every commit waiting. A resource appears at
    /// most once per transaction (a second commit for it waits for the next one), so each statement touches a row once.
    /// </summary>
    private async Task CommitLoopAsync()
    {
        var reader = _commits.Reader;
        var group = new List<PendingCommit>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        PendingCommit? carried = null;
        while (carried is not null || await reader.WaitToReadAsync())
        {
            group.Clear();
            names.Clear();
            if (carried is not null)
            {
                group.Add(carried);
                names.Add(carried.Name);
                carried = null;
            }
            while (group.Count < MaxCommitsPerTransaction && reader.TryRead(out var commit))
            {
                if (!names.Add(commit.Name))
                {
                    carried = commit;
                    break;
                }
                group.Add(commit);
            }
            await CommitGroupAsync(group);
        }
    }

    private async Task CommitGroupAsync(List<PendingCommit> group)
    {
        long started = Stopwatch.GetTimestamp();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var heads = await WriteGroupAsync(group);
                _metrics?.StoreCommitted(Stopwatch.GetElapsedTime(started), group.Count);
                foreach (var commit in group)
                {
                    // A resource missing from the answer was deleted while its grain ran its last turn: its changes were dropped.
                    if (!heads.TryGetValue(commit.Name, out var head))
                        commit.Done.TrySetResult();
                    else if (head.Epoch != commit.Epoch)
                        commit.Done.TrySetException(new OwnershipLostException(commit.Name, commit.Epoch));
                    else if (head.Seq != commit.Sequence - 1)
                        commit.Done.TrySetException(new CommitOutOfOrderException(commit.Name, commit.Epoch, commit.Sequence));
                    else
                    {
                        commit.Done.TrySetResult();
                        if ((CollectionsMarshal.GetValueRefOrAddDefault(_uncompacted, commit.Name, out _) += 1) >= _compactAfter)
                        {
                            _uncompacted.Remove(commit.Name);
                            CompactInBackground(commit.Name);
                        }
                    }
                }
                return;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure
                && attempt < 3)
            {
                // Nothing was written; the same group is written again.
            }
            catch (Exception ex)
            {
                foreach (var commit in group)
                    commit.Done.TrySetException(ex);
                return;
            }
        }
    }

    /// <summary>
    /// One round trip: the batch is one implicit transaction. Its first statement locks the group's resource rows in name
    /// order (two silos' groups never wait on each other in a cycle) and reads their epochs; the gate moves each resource's
    /// last batch number on, only under the batch's epoch and right after the batch numbered before it, marking the row
    /// with this transaction; the append writes a batch's record only where that mark is. The lock holds the epoch still
    /// until the commit, so a claim under way waits for it, and a stale grain's batch is skipped without refusing the others.
    /// </summary>
    /// <returns>The epoch and last batch number, before this transaction, of each resource of the group that still exists.</returns>
    private async Task<Dictionary<string, (long Epoch, long Seq)>> WriteGroupAsync(List<PendingCommit> group)
    {
        await using var connection = await _data.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command("SELECT name, epoch, seq FROM resources WHERE name = ANY($1) ORDER BY name FOR UPDATE",
            (object)Column(group, g => g.Name)));
        batch.BatchCommands.Add(Command("""
            UPDATE resources r SET policy = COALESCE(u.policy, r.policy), seq = u.seq, gate_tx = txid_current()
            FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS u(resource, epoch, policy, seq)
            WHERE r.name = u.resource AND r.epoch = u.epoch AND r.seq = u.seq - 1
            """, Column(group, g => g.Name), Column(group, g => g.Epoch),
            Column(group, g => g.Changes.Policy is null ? null : PolicyJson.Serialize(g.Changes.Policy)), Column(group, g => g.Sequence)));
        batch.BatchCommands.Add(Command($"""
            INSERT INTO change_log(resource, seq, record)
            SELECT u.resource, u.seq, u.record FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[]) AS u(resource, epoch, seq, record),
                resources r
            WHERE {Owned}
            """, Column(group, g => g.Name), Column(group, g => g.Epoch), Column(group, g => g.Sequence),
            Column(group, g => ChangeRecord.Encode(g.Changes))));
        var heads = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                heads[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }
        return heads;
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
                await using var connection = await _data.OpenConnectionAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await CompactAsync(connection, transaction, name, CancellationToken.None);
                await transaction.CommitAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or ObjectDisposedException or InvalidDataException)
            {
                if (_closing is null)
                    LogCompactionFailed(ex, name);
            }
            finally
            {
                _compacting.TryRemove(name, out _);
            }
        });
    }

    /// <summary>
    /// Folds the resource's change log into its tables and deletes what it folded, in <paramref name="transaction"/>, under
    /// the resource's row lock (no commit of it runs meanwhile). Any owner's records, at any time: the log holds only what
    /// was accepted, in order, so folding it changes what is stored in form, never in content.
    /// </summary>
    private static async Task CompactAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, CancellationToken cancellationToken)
    {
        var tables = await QueryAsync(connection, transaction, "SELECT last_id FROM resources WHERE name = $1 FOR UPDATE", [name],
            r => r.GetInt64(0), cancellationToken);
        if (tables.Count == 0)
            return;
        var log = await QueryAsync(connection, transaction, "SELECT seq, record FROM change_log WHERE resource = $1 ORDER BY seq", [name],
            r => (Seq: r.GetInt64(0), Record: (byte[])r.GetValue(1)), cancellationToken);
        if (log.Count == 0)
            return;
        var folded = ChangeFold.Fold(log.Select(e => ChangeRecord.Decode(e.Record)), tables[0])!;
        var item = new List<(string Name, ResourceChanges Changes)> { (name, folded) };
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            UPDATE resources SET last_id = $2, last_fencing = $3, window_next_seq = $4, saved_at = $5 WHERE name = $1
            """, name, folded.LastId, folded.LastFencingToken, folded.WindowNextSeq, folded.SavedAt));
        AddRowCommands(batch, item);
        batch.BatchCommands.Add(Command("DELETE FROM change_log WHERE resource = $1 AND seq <= $2", name, log[^1].Seq));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The statements that write the rows of each change into its resource's tables.</summary>
    private static void AddRowCommands(NpgsqlBatch batch, List<(string Name, ResourceChanges Changes)> group)
    {
        var requests = Rows(group, c => c.UpsertRequests);
        if (requests.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO requests(resource, id, client, load, priority, level, state, enqueued_at, wait_deadline, timer_at, fencing,
                    granted_at, window_seq, queue_seq)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::int[], $8::bigint[],
                    $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
                ON CONFLICT(resource, id) DO UPDATE SET client = excluded.client, load = excluded.load, priority = excluded.priority,
                    level = excluded.level, state = excluded.state, enqueued_at = excluded.enqueued_at, wait_deadline = excluded.wait_deadline,
                    timer_at = excluded.timer_at, fencing = excluded.fencing, granted_at = excluded.granted_at, window_seq = excluded.window_seq,
                    queue_seq = excluded.queue_seq
                """, Column(requests, x => x.Name), Column(requests, x => x.Row.Id),
                Column(requests, x => x.Row.ClientId), Column(requests, x => x.Row.Load), Column(requests, x => (int)x.Row.Priority),
                Column(requests, x => x.Row.Level), Column(requests, x => (int)x.Row.State), Column(requests, x => x.Row.EnqueuedAt),
                Column(requests, x => x.Row.WaitDeadline), Column(requests, x => x.Row.TimerAt), Column(requests, x => x.Row.FencingToken),
                Column(requests, x => x.Row.GrantedAt), Column(requests, x => x.Row.WindowSeq), Column(requests, x => x.Row.QueueSeq)));
        }
        var jobs = Rows(group, c => c.UpsertJobs);
        if (jobs.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO jobs(resource, id, record)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
                ON CONFLICT(resource, id) DO UPDATE SET record = excluded.record
                """, Column(jobs, x => x.Name), Column(jobs, x => x.Row.Id), Column(jobs, x => JsonSerializer.Serialize(x.Row))));
        }
        var output = Rows(group, c => c.AppendOutput);
        if (output.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO job_output(resource, job_id, "offset", text)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])
                ON CONFLICT(resource, job_id, "offset") DO UPDATE SET text = excluded.text
                """, Column(output, x => x.Name), Column(output, x => x.Row.JobId), Column(output, x => x.Row.Offset), Column(output, x => x.Row.Text)));
        }
        var ended = Rows(group, c => c.DeleteRequests);
        if (ended.Count > 0)
        {
            foreach (var (table, id) in new[] { ("requests", "id"), ("jobs", "id"), ("job_output", "job_id") })
            {
                batch.BatchCommands.Add(Command($"""
                    DELETE FROM {table} t USING unnest($1::text[], $2::bigint[]) AS u(resource, id)
                    WHERE t.resource = u.resource AND t.{id} = u.id
                    """, Column(ended, x => x.Name), Column(ended, x => x.Row)));
            }
        }
        var window = Rows(group, c => c.UpsertWindow);
        if (window.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO window_log(resource, seq, at, load, requests)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[])
                ON CONFLICT(resource, seq) DO UPDATE SET at = excluded.at, load = excluded.load, requests = excluded.requests
                """, Column(window, x => x.Name), Column(window, x => x.Row.Seq), Column(window, x => x.Row.At),
                Column(window, x => x.Row.Load), Column(window, x => x.Row.Requests)));
        }
        batch.BatchCommands.Add(Command("""
            DELETE FROM window_log w USING unnest($1::text[], $2::bigint[]) AS u(resource, head)
            WHERE w.resource = u.resource AND w.seq < u.head
            """, Column(group, g => g.Name), Column(group, g => g.Changes.WindowHeadSeq)));
        var keys = Rows(group, c => c.AddIdempotency);
        if (keys.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO idempotency(resource, key, request_id, outcome, fencing, expires_at, created_at, client, load, priority, granted_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[],
                        $8::text[], $9::bigint[], $10::int[], $11::bigint[])
                ON CONFLICT(resource, key) DO UPDATE SET request_id = excluded.request_id, outcome = excluded.outcome, fencing = excluded.fencing,
                    expires_at = excluded.expires_at, created_at = excluded.created_at, client = excluded.client, load = excluded.load,
                    priority = excluded.priority, granted_at = excluded.granted_at
                """, Column(keys, x => x.Name), Column(keys, x => x.Row.Key), Column(keys, x => x.Row.RequestId),
                Column(keys, x => (int)x.Row.Outcome), Column(keys, x => x.Row.FencingToken), Column(keys, x => x.Row.ExpiresAt),
                Column(keys, x => x.Row.CreatedAt), Column(keys, x => x.Row.ClientId), Column(keys, x => x.Row.Load),
                Column(keys, x => (int)x.Row.Priority), Column(keys, x => x.Row.GrantedAt)));
        }
        var expired = Rows(group, c => c.DeleteIdempotency);
        if (expired.Count > 0)
        {
            batch.BatchCommands.Add(Command("""
                DELETE FROM idempotency k USING unnest($1::text[], $2::text[]) AS u(resource, key)
                WHERE k.resource = u.resource AND k.key = u.key
                """, Column(expired, x => x.Name), Column(expired, x => x.Row)));
        }
    }

    /// <summary>The condition a group commit's append is under: the row's resource is still held under its commit's epoch,
    /// and its batch passed the gate in this transaction.</summary>
    private const string Owned = "r.name = u.resource AND r.epoch = u.epoch AND r.gate_tx = txid_current()";

    private const int MaxCommitsPerTransaction = 256;

    private static List<(string Name, T Row)> Rows<T>(List<(string Name, ResourceChanges Changes)> group, Func<ResourceChanges, IEnumerable<T>> rows) =>
        [.. group.SelectMany(g => rows(g.Changes).Select(row => (g.Name, row)))];

    private static TValue[] Column<TRow, TValue>(List<TRow> rows, Func<TRow, TValue> value)
    {
        var column = new TValue[rows.Count];
        for (int i = 0; i < column.Length; i++)
            column[i] = value(rows[i]);
        return column;
    }

    private sealed class PendingCommit(string name, long epoch, long sequence, ResourceChanges changes)
    {
        public string Name { get; } = name;
        public long Epoch { get; } = epoch;
        public long Sequence { get; } = sequence;
        public ResourceChanges Changes { get; } = changes;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await QueryAsync(connection, transaction, "UPDATE resources SET owner = NULL WHERE name = $1 AND epoch = $2 RETURNING 1", [name, epoch], r => 1, cancellationToken);
        await CompactAsync(connection, transaction, name, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<(string Name, string Owner)>> ListOwnedAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT name, owner FROM resources WHERE owner IS NOT NULL ORDER BY name", [], r => (r.GetString(0), r.GetString(1)), cancellationToken);

    public async Task PingAsync(CancellationToken cancellationToken) =>
        await QueryAsync("SELECT value FROM meta WHERE key = 'schema_version'", [], r => r.GetInt64(0), cancellationToken);

    /// <summary>Writes the commits pending and closes the store; calls after the first (even concurrent ones) await the same close.</summary>
    public ValueTask DisposeAsync()
    {
        var closing = new Lazy<Task>(CloseAsync);
        return new ValueTask((Interlocked.CompareExchange(ref _closing, closing, null) ?? closing).Value);
    }

    private async Task CloseAsync()
    {
        _commits.Writer.TryComplete();
        await _committer;
        await _data.DisposeAsync();
    }

    [LoggerMessage(LogLevel.Warning, "Folding the change log of resource {Name} into its tables failed; it is tried again later")]
    private partial void LogCompactionFailed(Exception exception, string name);

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
