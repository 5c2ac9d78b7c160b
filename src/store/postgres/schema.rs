//! The schema of a PostgreSQL ledger (documented in `docs/format.md`, "PostgreSQL"): created by
//! `coopledger init --db URL` only, checked by every open.

use postgres::Client;

use crate::store::StoreError;

/// The schema's format version (`coopledger.meta.format`).
pub const FORMAT: i32 = 1;

/// The schema every table lives in.
pub const SCHEMA: &str = "coopledger";

/// The role `coopledger init` creates (NOLOGIN) and grants what a writer needs; grant it to the
/// login role the writer connects as.
pub const WRITER_ROLE: &str = "coopledger_writer";
/// The role that may only read.
pub const READER_ROLE: &str = "coopledger_reader";

/// The advisory lock a writer holds for as long as its session lives (`pg_try_advisory_lock`):
/// "ledger in use" for a second writer on the same primary. The epoch in the head row fences
/// the writers the lock cannot see (after a failover).
pub const WRITER_LOCK: i64 = 0x636f_6f70_6c65_6467; // "coopledg"

/// The channel the writer notifies with the acknowledged sequence whenever it records one.
pub const CHANNEL: &str = "coopledger_head";

/// The statements of `init`, run in one transaction.
const CREATE: &str = r"
CREATE SCHEMA coopledger;

CREATE TABLE coopledger.meta (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    format     integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The one row every group locks (FOR UPDATE) and updates: the serialisation point.
CREATE TABLE coopledger.head (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq        bigint NOT NULL CHECK (seq >= 0),
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    acked_seq  bigint NOT NULL CHECK (acked_seq >= 0 AND acked_seq <= seq),
    acked_hash bytea NOT NULL CHECK (length(acked_hash) = 32),
    epoch      bigint NOT NULL CHECK (epoch >= 0),
    tree_size  bigint NOT NULL CHECK (tree_size >= 0)
);

CREATE TABLE coopledger.records (
    seq            bigint PRIMARY KEY CHECK (seq >= 1),
    event_id       uuid NOT NULL UNIQUE,
    stream         text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version >= 1),
    recorded_at    timestamptz NOT NULL,
    type           text NOT NULL,
    frame          bytea NOT NULL,
    UNIQUE (stream, stream_version)
);
-- The frame is kept byte for byte, never compressed.
ALTER TABLE coopledger.records ALTER COLUMN frame SET STORAGE EXTERNAL;

CREATE TABLE coopledger.tiles (
    level  smallint NOT NULL CHECK (level >= 0),
    index  bigint NOT NULL CHECK (index >= 0),
    hashes bytea NOT NULL,
    PRIMARY KEY (level, index)
);
ALTER TABLE coopledger.tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;

CREATE TABLE coopledger.views (
    part  bytea PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE coopledger.checkpoints (
    n         bigint PRIMARY KEY,
    tree_size bigint NOT NULL CHECK (tree_size >= 0),
    note      text NOT NULL,
    UNIQUE (tree_size, note)
);

CREATE FUNCTION coopledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'coopledger.%: % refused: the table is append-only', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON coopledger.records
    FOR EACH STATEMENT EXECUTE FUNCTION coopledger.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON coopledger.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION coopledger.refuse_change();

INSERT INTO coopledger.head (seq, hash, acked_seq, acked_hash, epoch, tree_size)
    VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000',
            0, '\x0000000000000000000000000000000000000000000000000000000000000000', 0, 0);
";

/// The grants, after the roles exist.
const GRANTS: &str = r"
GRANT USAGE ON SCHEMA coopledger TO coopledger_writer, coopledger_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA coopledger TO coopledger_writer, coopledger_reader;
GRANT INSERT ON coopledger.records, coopledger.checkpoints TO coopledger_writer;
GRANT UPDATE ON coopledger.head TO coopledger_writer;
GRANT INSERT, UPDATE, DELETE ON coopledger.tiles, coopledger.views TO coopledger_writer;
";

fn db_error(what: &str, e: &postgres::Error) -> StoreError {
    StoreError::Io(format!("{what}: {}", super::describe(e)))
}

/// Creates the schema, the roles (when missing) and the grants in the database of `client`, in
/// one transaction. Refuses a database that already has the schema.
///
/// # Errors
/// [`StoreError::Exists`] when the schema is there; database errors (permission to create
/// roles or schemas included).
pub fn create(client: &mut Client, shown: &str) -> Result<(), StoreError> {
    if exists(client)? {
        return Err(StoreError::Exists(shown.to_owned()));
    }
    let mut tx = client.transaction().map_err(|e| db_error("begin", &e))?;
    // The schema is replicated like everything else; the first writer's takeover commit waits
    // for the standby, so creating it must not hang when none is streaming yet.
    tx.batch_execute("SET LOCAL synchronous_commit = local")
        .map_err(|e| db_error("set synchronous_commit", &e))?;
    tx.batch_execute(CREATE)
        .map_err(|e| db_error("creating the schema", &e))?;
    tx.execute(
        "INSERT INTO coopledger.meta (format) VALUES ($1)",
        &[&FORMAT],
    )
    .map_err(|e| db_error("meta", &e))?;
    for role in [WRITER_ROLE, READER_ROLE] {
        let found = tx
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
            .map_err(|e| db_error("looking up roles", &e))?;
        if found.is_none() {
            // Roles belong to the cluster, not the database: another database's `init` may
            // create the same role at the same moment, and then it is there.
            let mut create = tx
                .savepoint("role")
                .map_err(|e| db_error("savepoint", &e))?;
            match create.batch_execute(&format!("CREATE ROLE {role} NOLOGIN")) {
                Ok(()) => create.commit().map_err(|e| db_error("create role", &e))?,
                Err(e)
                    if e.code().is_some_and(|c| {
                        *c == postgres::error::SqlState::UNIQUE_VIOLATION
                            || *c == postgres::error::SqlState::DUPLICATE_OBJECT
                    }) =>
                {
                    drop(create);
                }
                Err(e) => return Err(db_error(&format!("creating role {role}"), &e)),
            }
        }
    }
    tx.batch_execute(GRANTS)
        .map_err(|e| db_error("granting", &e))?;
    // Reading pg_stat_replication's sync_state (the writer's check for a synchronous standby)
    // needs pg_monitor; granting it needs the right to, which an operator may lack: then the
    // writer's login role must be given it by someone who has.
    let mut monitor = tx
        .savepoint("monitor")
        .map_err(|e| db_error("savepoint", &e))?;
    match monitor.batch_execute("GRANT pg_monitor TO coopledger_writer") {
        Ok(()) => monitor.commit().map_err(|e| db_error("grant", &e))?,
        Err(e) => {
            tracing::warn!(error = %super::describe(&e), "could not grant pg_monitor to coopledger_writer");
            drop(monitor);
        }
    }
    tx.commit().map_err(|e| db_error("commit", &e))
}

/// Whether the database of `client` has the schema.
///
/// # Errors
/// Database errors.
pub fn exists(client: &mut Client) -> Result<bool, StoreError> {
    let row = client
        .query_one("SELECT to_regclass('coopledger.head') IS NOT NULL", &[])
        .map_err(|e| db_error("looking for the schema", &e))?;
    Ok(row.get(0))
}

/// Checks that the database of `client` holds a ledger of a format this build knows.
///
/// # Errors
/// [`StoreError::Missing`] without the schema (with `hint` appended); [`StoreError::UnknownFormat`].
pub fn check(client: &mut Client, shown: &str, hint: &str) -> Result<(), StoreError> {
    if !exists(client)? {
        return Err(StoreError::Missing(format!(
            "{shown} (the database has no coopledger schema{hint})"
        )));
    }
    let format: Option<i32> = client
        .query_opt("SELECT format FROM coopledger.meta", &[])
        .map_err(|e| db_error("reading coopledger.meta", &e))?
        .map(|row| row.get(0));
    match format {
        Some(FORMAT) => Ok(()),
        other => Err(StoreError::UnknownFormat {
            location: shown.to_owned(),
            found: other.map_or_else(|| "missing".to_owned(), |f| f.to_string()),
        }),
    }
}
