using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace OrleansQueue.Grains.Storage;

/// <summary>
/// Copies the SQLite write-ahead log back into the database on a thread and connection of its own, so that no commit
/// waits for it. Left to SQLite, the commit that crosses the log's threshold does the copy and its fsync, and every grain
/// answer behind it waits milliseconds. A passive checkpoint runs beside the writer and never blocks it.
/// </summary>
internal sealed class SqliteCheckpointer : IDisposable
{
    /// <summary>How many transactions the writer commits between two checkpoints.</summary>
    public const int Every = 200;

    private readonly SqliteConnection _connection;
    private readonly ILogger? _logger;
    private readonly SemaphoreSlim _due = new(0);
    private readonly Thread _thread;
    private int _sinceLast;
    private volatile bool _stopping;

    public SqliteCheckpointer(SqliteConnection connection, ILogger? logger)
    {
        _connection = connection;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = "OrleansQueue SQLite checkpointer" };
        _thread.Start();
    }

    /// <summary>The writer committed a transaction.</summary>
    public void Committed()
    {
        if (++_sinceLast >= Every)
        {
            _sinceLast = 0;
            _due.Release();
        }
    }

    private void Run()
    {
        while (true)
        {
            _due.Wait(TimeSpan.FromSeconds(1)); // and at least once a second, for a log that grows slowly
            if (_stopping)
                return;
            try
            {
                using var command = _connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                command.ExecuteNonQuery();
            }
            catch (SqliteException ex)
            {
                _logger?.LogWarning(ex, "A checkpoint of the SQLite store failed; the next one copies what it left");
            }
        }
    }

    /// <summary>Stops the thread (a checkpoint under way finishes first) and closes its connection.</summary>
    public void Dispose()
    {
        _stopping = true;
        _due.Release();
        _thread.Join();
        _connection.Dispose();
        _due.Dispose();
    }
}
