namespace OrleansQueue.Grains.Storage;

internal static class SqliteSchema
{
    public const int Version = 4;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS meta(
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS resources(
            name TEXT PRIMARY KEY,
            policy TEXT NOT NULL,
            push_enabled INTEGER NOT NULL,
            last_id INTEGER NOT NULL DEFAULT 0,
            last_fencing INTEGER NOT NULL DEFAULT 0,
            window_next_seq INTEGER NOT NULL DEFAULT 0,
            saved_at INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            epoch INTEGER NOT NULL DEFAULT 0,
            log_seq INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS change_log(
            resource TEXT NOT NULL,
            seq INTEGER NOT NULL,
            record BLOB NOT NULL,
            PRIMARY KEY(resource, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS requests(
            resource TEXT NOT NULL,
            id INTEGER NOT NULL,
            client TEXT NOT NULL,
            load INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            level INTEGER NOT NULL,
            state INTEGER NOT NULL,
            enqueued_at INTEGER NOT NULL,
            wait_deadline INTEGER NOT NULL,
            timer_at INTEGER NOT NULL,
            fencing INTEGER NOT NULL,
            granted_at INTEGER NOT NULL,
            window_seq INTEGER NOT NULL,
            queue_seq INTEGER NOT NULL,
            PRIMARY KEY(resource, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS window_log(
            resource TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            load INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            PRIMARY KEY(resource, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS idempotency(
            resource TEXT NOT NULL,
            key TEXT NOT NULL,
            request_id INTEGER NOT NULL,
            outcome INTEGER NOT NULL,
            fencing INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            client TEXT NOT NULL DEFAULT '',
            load INTEGER NOT NULL DEFAULT 0,
            priority INTEGER NOT NULL DEFAULT 2,
            granted_at INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY(resource, key)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS jobs(
            resource TEXT NOT NULL,
            id INTEGER NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY(resource, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS job_output(
            resource TEXT NOT NULL,
            job_id INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY(resource, job_id, offset)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS heartbeats(
            owner TEXT PRIMARY KEY,
            alive_at INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES('schema_version', 4) ON CONFLICT(key) DO NOTHING;
        DELETE FROM meta WHERE key = 'alive_at';
        INSERT INTO meta(key, value) VALUES('last_epoch', 0) ON CONFLICT(key) DO NOTHING;
        """;

    /// <summary>Version 1 had no ownership: every resource starts unowned at epoch 0.</summary>
    public const string MigrateFrom1 = """
        ALTER TABLE resources ADD COLUMN owner TEXT;
        ALTER TABLE resources ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
        UPDATE meta SET value = 2 WHERE key = 'schema_version';
        """;

    /// <summary>Idempotency answers kept only the request's id and token: a release retried after its lease was forgotten
    /// (a restart) could not be answered. Rows kept from before answer with what they have.</summary>
    public const string AddIdempotencyAnswers = """
        ALTER TABLE idempotency ADD COLUMN client TEXT NOT NULL DEFAULT '';
        ALTER TABLE idempotency ADD COLUMN load INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE idempotency ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
        ALTER TABLE idempotency ADD COLUMN granted_at INTEGER NOT NULL DEFAULT 0;
        """;

    /// <summary>Version 3 writes a grain's commits as records of a change log (folded into the tables later); the log's
    /// table comes with <see cref="Create"/>, the number of the last record folded into the tables here.</summary>
    public const string AddChangeLog = """
        ALTER TABLE resources ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;
        UPDATE meta SET value = 3 WHERE key = 'schema_version';
        """;

    /// <summary>Version 4 keeps the output workers append to jobs (<c>job_output</c>, made by <see cref="Create"/>); run after
    /// the migrations before it.</summary>
    public const string AddJobOutput = "UPDATE meta SET value = 4 WHERE key = 'schema_version' AND value < 4;";
}
