using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using OrleansQueue.Scheduling;
using OrleansQueue.Scheduling.Persistence;
using OrleansQueue.Grains;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// The embedded durable store: one SQLite database in WAL mode. All writes go through one writer loop that puts
/// every commit waiting at that moment, from any grain, into one transaction (group commit across grains). A grain's
/// commit is one record appended to the change log; between batches, the loop folds a resource's log into its tables
/// once it holds <c>compactAfter</c> records, and whenever the resource is claimed or given up.
/// </summary>
internal sealed partial class SqliteGrainStore : IGrainStore
{
    private readonly string _connectionString;
    private bool _pruned; // only the writer loop touches it
    private readonly SiloMetrics? _metrics;
    private readonly ILogger? _logger;
    private readonly int _compactAfter;
    private readonly Dictionary<string, int> _uncompacted = new(StringComparer.Ordinal); // records appended since the last fold, by resource; the writer loop's
    private readonly HashSet<string> _dueForCompaction = new(StringComparer.Ordinal); // the writer loop's
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new() { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly SemaphoreSlim _readLock = new(1, 1);
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);
    private SqliteConnection? _writer;
    private SqliteConnection? _reader;
    private Task? _writerLoop;
    private Lazy<Task>? _closing;
    private SqliteCheckpointer? _checkpointer;
    private DataFolderLock? _folderLock;

    /// <param name="path">The database file; its folder is created if missing.</param>
    /// <param name="synchronous">SQLite's synchronous mode: NORMAL survives a process crash, FULL also a power loss.</param>
    /// <param name="compactAfter">How many records a resource's change log gathers before they are folded into its tables.</param>
    public SqliteGrainStore(string path, string synchronous = "NORMAL", SiloMetrics? metrics = null, ILogger? logger = null, int compactAfter = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(compactAfter, 1);
        if (synchronous is not ("NORMAL" or "FULL"))
            throw new ArgumentException($"Store:Synchronous must be NORMAL or FULL; it is \"{synchronous}\".", nameof(synchronous));
        Path = System.IO.Path.GetFullPath(path);
        Synchronous = synchronous;
        _metrics = metrics;
        _logger = logger;
        _compactAfter = compactAfter;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString();
    }

    public string Path { get; }
    public string Synchronous { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _folderLock = DataFolderLock.Take(Path); // before the database is opened: a second silo touches nothing
        _writer = await OpenAsync(cancellationToken);
        await ExecuteAsync(_writer, SqliteSchema.Create, cancellationToken);
        if (!await HasColumnAsync(_writer, "resources", "epoch", cancellationToken))
            await ExecuteAsync(_writer, SqliteSchema.MigrateFrom1, cancellationToken);
        if (!await HasColumnAsync(_writer, "idempotency", "client", cancellationToken))
            await ExecuteAsync(_writer, SqliteSchema.AddIdempotencyAnswers, cancellationToken);
        if (!await HasColumnAsync(_writer, "resources", "log_seq", cancellationToken))
            await ExecuteAsync(_writer, SqliteSchema.AddChangeLog, cancellationToken);
        await ExecuteAsync(_writer, SqliteSchema.AddJobOutput, cancellationToken);
        _reader = await OpenAsync(cancellationToken);
        _checkpointer = new SqliteCheckpointer(await OpenAsync(cancellationToken), _logger);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _writerLoop = stopped.Task;
        // A thread of its own: a commit's wake-up and its answer never queue behind the thread pool's other work.
        new Thread(() =>
        {
            WriteLoop();
            stopped.SetResult();
        }) { IsBackground = true, Name = "OrleansQueue SQLite writer" }.Start();
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // No connection checkpoints on commit: the checkpointer does, beside the writer.
        await ExecuteAsync(connection, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={Synchronous}; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=0;", cancellationToken);
        return connection;
    }

    public bool PipelinesCommits => true;

    public Task CommitAsync(string name, long epoch, long sequence, ResourceChanges changes, CancellationToken cancellationToken) =>
        Enqueue(PendingWrite.Commit(name, epoch, sequence, changes));

    public async Task<ClaimedGrain?> ClaimAsync(string name, string owner, CancellationToken cancellationToken)
    {
        var claim = PendingWrite.Claim(name, owner);
        await Enqueue(claim);
        if (!claim.Created)
            return null;
        // Claimed: every commit under an older epoch is now refused, so what is read next is final for them.
        var snapshot = await LoadAsync(name, cancellationToken);
        return snapshot is null ? null : new ClaimedGrain(snapshot with { SavedAt = ClaimedGrain.LastAlive(snapshot.SavedAt, claim.PreviousOwnerAlive) }, claim.Epoch, claim.Sequence);
    }

    public async Task ConfirmOwnershipAsync(string name, long epoch, CancellationToken cancellationToken)
    {
        // Claims are written by the writer loop and committed before their callers hear of them: a read finds every one.
        object? current = await ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT epoch FROM resources WHERE name = $name";
            command.Parameters.AddWithValue("$name", name);
            return command.ExecuteScalar();
        }, cancellationToken);
        if (current is not long stored || stored != epoch)
            throw new OwnershipLostException(name, epoch);
    }

    public Task HeartbeatAsync(string owner, long aliveAt, CancellationToken cancellationToken) =>
        Enqueue(PendingWrite.Heartbeat(owner, aliveAt));

    public Task ReleaseAsync(string name, long epoch, CancellationToken cancellationToken) =>
        Enqueue(PendingWrite.Release(name, epoch));

    public async Task<bool> PutResourceAsync(ResourceDefinition definition, CancellationToken cancellationToken)
    {
        var write = PendingWrite.Put(definition);
        await Enqueue(write);
        return write.Created;
    }

    public async Task<bool> DeleteResourceAsync(string name, CancellationToken cancellationToken)
    {
        var write = PendingWrite.Delete(name);
        await Enqueue(write);
        return write.Created;
    }

    /// <summary>Queues a write for the writer loop; after the store is closed, the task fails (it never throws here).</summary>
    private Task Enqueue(PendingWrite write) =>
        _writes.Writer.TryWrite(write) ? write.Done.Task : Task.FromException(new ObjectDisposedException(nameof(SqliteGrainStore), "The store is shut down."));

    private void WriteLoop()
    {
        var batch = new List<PendingWrite>();
        var reader = _writes.Reader;
        while (reader.TryPeek(out _) || reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < 1024 && reader.TryRead(out var write))
                batch.Add(write);
            long started = Stopwatch.GetTimestamp();
            try
            {
                using (var transaction = _writer!.BeginTransaction())
                {
                    foreach (var write in batch)
                        Apply(write, transaction);
                    transaction.Commit();
                }
                _metrics?.StoreCommitted(Stopwatch.GetElapsedTime(started), batch.Count);
                _checkpointer!.Committed();
                foreach (var write in batch)
                {
                    if (write.Refused is { } refused)
                        write.Done.TrySetException(refused);
                    else
                        write.Done.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var write in batch)
                    write.Done.TrySetException(ex);
            }
            if (_dueForCompaction.Count > 0)
                CompactDue();
        }
    }

    /// <summary>Folds the logs that reached their length, in a transaction of their own, after their batch was answered.</summary>
    private void CompactDue()
    {
        try
        {
            using var transaction = _writer!.BeginTransaction();
            foreach (string name in _dueForCompaction)
                Compact(name, transaction);
            transaction.Commit();
        }
        catch (Exception ex)
        {
            // Nothing is lost: the log stays as it was, and is folded on the next claim or the next time it is due.
            _logger?.LogWarning(ex, "Folding the change log of {Count} resources into their tables failed; it is tried again later", _dueForCompaction.Count);
        }
        _dueForCompaction.Clear();
    }

    public Task PingAsync(CancellationToken cancellationToken) =>
        ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT value FROM meta WHERE key = 'schema_version'";
            return command.ExecuteScalar();
        }, cancellationToken);

    /// <summary>Writes what is pending and closes the store; calls after the first (even concurrent ones) await the same close.</summary>
    public ValueTask DisposeAsync()
    {
        var closing = new Lazy<Task>(CloseAsync);
        return new ValueTask((Interlocked.CompareExchange(ref _closing, closing, null) ?? closing).Value);
    }

    private async Task CloseAsync()
    {
        _writes.Writer.TryComplete();
        if (_writerLoop is not null)
            await _writerLoop;
        _checkpointer?.Dispose();
        // Closing the connection finalises the prepared statements of every command made on it.
        _prepared.Clear();
        if (_writer is not null)
            await _writer.DisposeAsync();
        await _readLock.WaitAsync();
        try
        {
            if (_reader is not null)
                await _reader.DisposeAsync();
            _reader = null;
        }
        finally
        {
            _readLock.Release();
        }
        _folderLock?.Dispose();
    }

    private static async Task<bool> HasColumnAsync(SqliteConnection connection, string table, string column, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $column";
        command.Parameters.AddWithValue("$column", column);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken)) > 0;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class PendingWrite
    {
        public required string Kind { get; init; }
        public string Name { get; init; } = "";
        public ResourceChanges? Changes { get; init; }
        public ResourceDefinition? Definition { get; init; }
        public string Owner { get; init; } = "";
        /// <summary>For a commit or release: the epoch it is made under. For a claim: the new epoch.</summary>
        public long Epoch { get; set; }
        /// <summary>For a put: whether the resource was created. For a delete or claim: whether it existed.</summary>
        public bool Created { get; set; }
        /// <summary>For a claim: the previous owner's last heartbeat (0 if it never beat), or -1 when no owner held it.
        /// For a heartbeat: when the owner was alive.</summary>
        public long PreviousOwnerAlive { get; set; }
        /// <summary>For a commit: the batch's number. For a claim: the number of the last batch written.</summary>
        public long Sequence { get; set; }
        /// <summary>Why this write alone was refused, while the rest of its batch committed.</summary>
        public Exception? Refused { get; set; }
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static PendingWrite Commit(string name, long epoch, long sequence, ResourceChanges changes) =>
            new() { Kind = "commit", Name = name, Epoch = epoch, Sequence = sequence, Changes = changes };
        public static PendingWrite Claim(string name, string owner) => new() { Kind = "claim", Name = name, Owner = owner };
        public static PendingWrite Release(string name, long epoch) => new() { Kind = "release", Name = name, Epoch = epoch };
        public static PendingWrite Put(ResourceDefinition definition) => new() { Kind = "put", Name = definition.Name, Definition = definition };
        public static PendingWrite Delete(string name) => new() { Kind = "delete", Name = name };
        public static PendingWrite Heartbeat(string owner, long aliveAt) => new() { Kind = "heartbeat", Owner = owner, PreviousOwnerAlive = aliveAt };
    }
}

