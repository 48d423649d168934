namespace OrleansQueue.Grains.Storage;

internal static class PostgresSchema
{
    /// <summary>The version <see cref="Create"/> brings a database to.</summary>
    public const int Version = 3;

    /// <summary>The database's schema version, or null before the schema exists. Takes no lock a running silo holds.</summary>
    public const string CurrentVersion = "SELECT value FROM meta WHERE key = 'schema_version'";

    /// <summary>Run under an advisory lock, so silos starting together do not race to create it.</summary>
    public const string Create = """
        SELECT pg_advisory_xact_lock(727100001);
        CREATE TABLE IF NOT EXISTS meta(
            key text PRIMARY KEY,
            value bigint NOT NULL);
        CREATE SEQUENCE IF NOT EXISTS epochs;
        CREATE TABLE IF NOT EXISTS resources(
            name text PRIMARY KEY,
            policy text NOT NULL,
            push_enabled boolean NOT NULL,
            last_id bigint NOT NULL DEFAULT 0,
            last_fencing bigint NOT NULL DEFAULT 0,
            window_next_seq bigint NOT NULL DEFAULT 0,
            saved_at bigint NOT NULL DEFAULT 0,
            owner text,
            epoch bigint NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS resources_owned ON resources(owner) WHERE owner IS NOT NULL;
        CREATE TABLE IF NOT EXISTS requests(
            resource text NOT NULL,
            id bigint NOT NULL,
            client text NOT NULL,
            load bigint NOT NULL,
            priority int NOT NULL,
            level int NOT NULL,
            state int NOT NULL,
            enqueued_at bigint NOT NULL,
            wait_deadline bigint NOT NULL,
            timer_at bigint NOT NULL,
            fencing bigint NOT NULL,
            granted_at bigint NOT NULL,
            window_seq bigint NOT NULL,
            queue_seq bigint NOT NULL,
            PRIMARY KEY(resource, id));
        CREATE TABLE IF NOT EXISTS window_log(
            resource text NOT NULL,
            seq bigint NOT NULL,
            at bigint NOT NULL,
            load bigint NOT NULL,
            requests int NOT NULL,
            PRIMARY KEY(resource, seq));
        CREATE TABLE IF NOT EXISTS idempotency(
            resource text NOT NULL,
            key text NOT NULL,
            request_id bigint NOT NULL,
            outcome int NOT NULL,
            fencing bigint NOT NULL,
            expires_at bigint NOT NULL,
            created_at bigint NOT NULL,
            PRIMARY KEY(resource, key));
        ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS client text NOT NULL DEFAULT '';
        ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS load bigint NOT NULL DEFAULT 0;
        ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS priority int NOT NULL DEFAULT 2;
        ALTER TABLE idempotency ADD COLUMN IF NOT EXISTS granted_at bigint NOT NULL DEFAULT 0;
        CREATE TABLE IF NOT EXISTS jobs(
            resource text NOT NULL,
            id bigint NOT NULL,
            record text NOT NULL,
            PRIMARY KEY(resource, id));
        CREATE TABLE IF NOT EXISTS heartbeats(
            owner text PRIMARY KEY,
            alive_at bigint NOT NULL);
        -- The last batch written (seq), and the transaction whose batch passed the gate (gate_tx): the rows of a batch are
        -- written only in the transaction that moved seq on for it.
        ALTER TABLE resources ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;
        ALTER TABLE resources ADD COLUMN IF NOT EXISTS gate_tx bigint NOT NULL DEFAULT 0;
        -- Version 2: a commit appends one record per batch to change_log (the batch's number, then ChangeRecord's binary
        -- form); compaction folds a resource's log into the tables above and deletes what it folded.
        CREATE TABLE IF NOT EXISTS change_log(
            resource text NOT NULL,
            seq bigint NOT NULL,
            record bytea NOT NULL,
            PRIMARY KEY(resource, seq));
        -- Version 3: the output workers append to jobs, a row per folded run of chunks.
        CREATE TABLE IF NOT EXISTS job_output(
            resource text NOT NULL,
            job_id bigint NOT NULL,
            "offset" bigint NOT NULL,
            text text NOT NULL,
            PRIMARY KEY(resource, job_id, "offset"));
        INSERT INTO meta(key, value) VALUES('schema_version', 3) ON CONFLICT(key) DO UPDATE SET value = GREATEST(meta.value, 3);
        """;
}
