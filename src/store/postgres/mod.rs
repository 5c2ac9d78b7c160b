//! The PostgreSQL backend: a ledger in a database with a synchronous standby (Patroni for
//! failover), for a ledger that must survive the loss of a machine and serve several API nodes.
//!
//! The tables (schema `coopledger`, see [`schema`] and `docs/format.md`) are readable with SQL:
//! `records` holds each frame byte for byte beside the columns an index needs; `head` is the
//! one row every group locks and updates. The append protocol is the writer's ([`writer`]):
//! one transaction (one statement) per group, sequences from the ledger, an acknowledgement
//! only when its commit returned without "canceling wait for synchronous replication", the
//! acknowledged head kept apart from the written one, writers fenced by an epoch, ambiguous
//! outcomes resolved on reconnect by looking up the group's event ids.
//!
//! **What a handle serves.** Every handle serves a prefix of the log that was acknowledged: its
//! *horizon*, the acknowledged head when it opened (a writer's moves with its own commits;
//! [`Backend::wait_for_head`] moves a reader's). Records, lookups, the tree size and the
//! checkpoints beyond it are never returned, so a record whose COMMIT may not survive a
//! failover is never shown, and one handle's reads are consistent with each other while other
//! processes write.
//!
//! **Lookups.** Event ids and stream versions are the table's, through its unique indexes. A
//! writer keeps two Bloom filters (`store::filter`), of every id and every stream in the table
//! (read at takeover, about 2.5 bytes an event, extended by each commit): an id or a stream
//! they do not hold is new without a query, and the ledger asks for a whole group's ids and
//! versions at once, so a group of new events costs no look-up at all. It also keeps the
//! versions of the last [`CACHED_VERSIONS`] streams it appended to or asked about (the
//! countries, partners and cases asked again and again), exact because it is the only one
//! appending.
//!
//! **Connections.** The writer has its own connection (always to a primary:
//! `target_session_attrs=read-write`); reads go through a small pool ([`r2d2`]) that connects
//! as the URL says (a writer's pool, to the primary too, so that it reads what it wrote).

mod schema;
mod target;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use postgres::{Client, NoTls};
use proto_events::{Hash, Stream};
use r2d2_postgres::PostgresConnectionManager;
use uuid::Uuid;

pub use schema::{CHANNEL, FORMAT, READER_ROLE, SCHEMA, WRITER_ROLE};
pub use target::{DEFAULT_FAILOVER_TIMEOUT, Target};

use super::filter::Growing;
use super::{
    Access, Backend, Group, IndexRow, RecordKey, Records, StoreError, SyncCounters, Value,
    ViewParts,
};
use writer::Writer;

/// Connections in a handle's read pool.
const READ_POOL: u32 = 8;
/// The most stream versions a writer keeps (see `PgStore::versions`).
const CACHED_VERSIONS: usize = 65_536;
/// Records fetched per query of a range read.
const RECORDS_PER_FETCH: i64 = 2048;
/// How often a reader without a notification channel (on a standby) polls the head.
pub const POLL: Duration = Duration::from_millis(50);

/// foldhash: several times faster than SipHash on ids and stream names looked up per event.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The part of the log a handle serves (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Horizon {
    seq: u64,
    hash: Hash,
}

/// A writer's filters of the ids and streams in the table (see `PgStore::seen`).
#[derive(Debug, Default)]
struct Seen {
    ids: Growing,
    /// By the stream's name (its `stream` column).
    streams: Growing,
}

/// A ledger in a PostgreSQL database.
pub struct PgStore {
    target: Target,
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool>,
    /// The writer, for a handle opened to write.
    writer: Option<Mutex<Writer>>,
    horizon: RwLock<Horizon>,
    /// Notified whenever the horizon moves.
    moved: (Mutex<()>, Condvar),
    /// A writer's versions of the streams it appended to or asked about lately, at most
    /// [`CACHED_VERSIONS`]: the ledger asks a stream's version for every event it appends, and
    /// the countries, partners and cases are asked again and again. Kept exact by each commit
    /// (a writer is the only one appending); a stream not kept is asked of the table.
    versions: Mutex<HashMap<Stream, u64>>,
    /// A writer's filters of every event id and every stream in the table (read at takeover,
    /// extended by each commit; about 2.5 bytes an event): an id or a stream they do not hold
    /// is new, with no query.
    seen: RwLock<Seen>,
    /// The connection that LISTENs for the writer's notifications, when one could.
    listener: Mutex<Option<Client>>,
    counters: SyncCounters,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.target.shown)
            .field("writer", &self.writer.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs `f`, which uses the synchronous driver, where it may block: the driver runs its own
/// runtime and refuses to start inside another one, so on a tokio thread (the ledger's readers
/// are called from async tasks: subscriptions, the HTTP API) the blocking is announced to the
/// runtime (`block_in_place`), or moved to a thread of its own on a single-threaded runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => f(),
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(f)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}

/// A driver error in words: the server's severity, message, detail and SQLSTATE when it is one.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str("; ");
                text.push_str(detail);
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

fn io(what: &str, e: &postgres::Error) -> StoreError {
    StoreError::Io(format!("PostgreSQL: {what}: {}", describe(e)))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(what: &str, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({n})")))
}

fn hash_of(what: &str, bytes: &[u8]) -> Result<Hash, StoreError> {
    Hash::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// Creates the schema of a new ledger in the database `url` names (`coopledger init`).
///
/// # Errors
/// [`StoreError::Exists`] when it has one; [`StoreError::BadLocation`]; database errors.
pub fn init(url: &str) -> Result<(), StoreError> {
    off_runtime(|| init_here(url))
}

fn init_here(url: &str) -> Result<(), StoreError> {
    let target = Target::parse(url)?;
    let mut client = target
        .writer_config()
        .connect(NoTls)
        .map_err(|e| io(&format!("connecting to {}", target.shown), &e))?;
    schema::create(&mut client, &target.shown)
}

impl PgStore {
    /// Opens the ledger in the database `url` names: to read (a reader serving the acknowledged
    /// head), or to write (the writer: a synchronous standby checked, the writer lock taken, the
    /// epoch moved on and what an earlier writer left unacknowledged adopted once replicated).
    /// [`Access::Create`] opens to write: it never creates a schema (`coopledger init` does).
    ///
    /// # Errors
    /// [`StoreError::Missing`] without the schema, [`StoreError::UnknownFormat`],
    /// [`StoreError::BadLocation`], [`StoreError::InUse`] when another writer holds the lock,
    /// [`StoreError::NoSyncStandby`]; connection errors.
    pub fn open(url: &str, access: Access) -> Result<PgStore, StoreError> {
        off_runtime(|| Self::open_here(url, access))
    }

    fn open_here(url: &str, access: Access) -> Result<PgStore, StoreError> {
        let target = Target::parse(url)?;
        let writing = access != Access::Read;
        let mut config = if writing {
            target.writer_config()
        } else {
            target.reader_config()
        };
        config.application_name(if writing {
            "coopledger-writer-reads"
        } else {
            "coopledger-reader"
        });
        let pool = r2d2::Pool::builder()
            .max_size(READ_POOL)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            // A broken connection is replaced on checkout; the failure that broke it is the
            // caller's to report, not the pool's to log.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        let hint = match access {
            Access::Create => {
                "; `--create` does not create PostgreSQL schemas: run `coopledger init --db URL` once"
            }
            _ => "",
        };
        {
            let mut client = pool.get().map_err(|e| {
                StoreError::Io(format!("PostgreSQL: connecting to {}: {e}", target.shown))
            })?;
            schema::check(&mut client, &target.shown, hint)?;
        }
        let store = PgStore {
            pool: Some(pool),
            writer: None,
            horizon: RwLock::new(Horizon {
                seq: 0,
                hash: [0; 32],
            }),
            moved: (Mutex::new(()), Condvar::new()),
            versions: Mutex::new(HashMap::default()),
            seen: RwLock::new(Seen::default()),
            listener: Mutex::new(None),
            counters: SyncCounters::default(),
            target,
        };
        if writing {
            store.start_writer()
        } else {
            let acked = store.read_acked()?;
            *store.horizon.write() = acked;
            Ok(store)
        }
    }

    fn start_writer(mut self) -> Result<PgStore, StoreError> {
        let target = self.target.clone();
        let (writer, head) = off_runtime(|| Writer::start(target))?;
        *self.horizon.write() = Horizon {
            seq: head.0,
            hash: head.1,
        };
        self.writer = Some(Mutex::new(writer));
        self.load_seen()?;
        Ok(self)
    }

    /// The URL, its password hidden.
    #[must_use]
    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    fn client(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .unwrap_or_else(|| unreachable!("the pool lives as long as the store"));
        pool.get().map_err(|e| {
            StoreError::Io(format!(
                "PostgreSQL: no connection to {}: {e}",
                self.target.shown
            ))
        })
    }

    /// Runs `f` on a pooled connection, off any async runtime (see [`off_runtime`]).
    fn with_client<T: Send>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| {
            let mut client = self.client()?;
            f(&mut client).map_err(|e| io(what, &e))
        })
    }

    fn horizon(&self) -> Horizon {
        *self.horizon.read()
    }

    /// The acknowledged head as the database has it now.
    fn read_acked(&self) -> Result<Horizon, StoreError> {
        let row = self.with_client("reading the head", |c| {
            c.query_one("SELECT acked_seq, acked_hash FROM coopledger.head", &[])
        })?;
        Ok(Horizon {
            seq: to_u64("the acknowledged sequence", row.get(0))?,
            hash: hash_of("the acknowledged hash", row.get(1))?,
        })
    }

    /// Moves the horizon forward (never back: a reader keeps what it has served).
    fn advance(&self, to: Horizon) {
        let mut horizon = self.horizon.write();
        if to.seq > horizon.seq {
            *horizon = to;
            drop(horizon);
            let _guard = self.moved.0.lock();
            self.moved.1.notify_all();
        }
    }

    /// Reads a writer's filters of ids and streams: one pass over two columns of every record
    /// (after the takeover, which settled any group a previous writer left in doubt).
    fn load_seen(&self) -> Result<(), StoreError> {
        off_runtime(|| {
            let started = Instant::now();
            let mut client = self.client()?;
            let params: [i64; 0] = [];
            let mut rows = client
                .query_raw("SELECT event_id, stream FROM coopledger.records", params)
                .map_err(|e| io("reading the ids and streams", &e))?;
            let mut seen = Seen::default();
            let mut n = 0u64;
            while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)
                .map_err(|e| io("reading the ids and streams", &e))?
            {
                let id: Uuid = row.get(0);
                let stream: &str = row.get(1);
                seen.ids.insert(id.as_bytes());
                seen.streams.insert(stream.as_bytes());
                n += 1;
            }
            tracing::debug!(
                records = n,
                ms = started.elapsed().as_millis() as u64,
                "filters of ids and streams loaded"
            );
            *self.seen.write() = seen;
            Ok(())
        })
    }

    /// Event ids' sequences as the table has them, up to the horizon.
    fn seqs_of_table(&self, ids: &[Uuid]) -> Result<Vec<Option<u64>>, StoreError> {
        let horizon = to_i64(self.horizon().seq);
        let rows = self.with_client("looking up event ids", |c| {
            c.query(
                "SELECT event_id, seq FROM coopledger.records WHERE event_id = ANY($1) AND seq <= $2",
                &[&ids, &horizon],
            )
        })?;
        let mut found: HashMap<Uuid, u64> =
            HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        for row in rows {
            found.insert(row.get(0), to_u64("a sequence", row.get(1))?);
        }
        Ok(ids.iter().map(|id| found.get(id).copied()).collect())
    }
    /// A stream's sequences as the table has them, up to the horizon.
    fn stream_seqs_table(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let (name, from, horizon) = (
            stream.to_string(),
            to_i64(from_version.max(1)),
            to_i64(self.horizon().seq),
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.with_client("reading a stream", |c| {
            c.query(
                "SELECT seq FROM coopledger.records WHERE stream = $1 AND stream_version >= $2 \
                 AND seq <= $3 ORDER BY stream_version LIMIT $4",
                &[&name, &from, &horizon, &limit],
            )
        })?;
        rows.into_iter()
            .map(|row| to_u64("a sequence", row.get(0)))
            .collect()
    }

    /// Keeps a writer's version of `stream`, making room when full.
    fn keep_version(versions: &mut HashMap<Stream, u64>, stream: &Stream, version: u64) {
        if let Some(kept) = versions.get_mut(stream) {
            *kept = version;
            return;
        }
        if versions.len() >= CACHED_VERSIONS {
            let any = versions.keys().next().cloned();
            if let Some(any) = any {
                versions.remove(&any);
            }
        }
        versions.insert(stream.clone(), version);
    }

    /// Waits for a notification on the listening connection (set up on first use; a standby
    /// refuses LISTEN, and then this handle polls).
    fn wait_notified(&self, timeout: Duration) {
        off_runtime(|| self.wait_notified_here(timeout));
    }

    fn wait_notified_here(&self, timeout: Duration) {
        let mut guard = self.listener.lock();
        if guard.is_none() {
            let mut config = self.target.reader_config();
            config.application_name("coopledger-listener");
            if let Ok(mut client) = config.connect(NoTls)
                && client
                    .batch_execute(&format!("LISTEN {}", schema::CHANNEL))
                    .is_ok()
            {
                *guard = Some(client);
            }
        }
        let waited = guard.as_mut().map(|client| {
            let mut notes = client.notifications();
            postgres::fallible_iterator::FallibleIterator::next(&mut notes.timeout_iter(timeout))
        });
        match waited {
            Some(Ok(Some(_))) => {}
            Some(Ok(None)) => {}
            Some(Err(_)) => {
                // The connection broke (a failover): poll this time, listen again next time.
                *guard = None;
                drop(guard);
                std::thread::sleep(timeout.min(POLL));
            }
            None => {
                drop(guard);
                std::thread::sleep(timeout.min(POLL));
            }
        }
    }
}

impl Drop for PgStore {
    /// Closes the connections off any async runtime (closing one blocks on the driver's).
    fn drop(&mut self) {
        let writer = self.writer.take();
        let listener = self.listener.get_mut().take();
        let pool = self.pool.take();
        off_runtime(move || drop((writer, listener, pool)));
    }
}

/// A range read, fetched in pages.
struct RangeRead<'a> {
    store: &'a PgStore,
    next: u64,
    to: u64,
    page: VecDeque<(u64, Vec<u8>)>,
    failed: bool,
}

impl RangeRead<'_> {
    fn fetch(&mut self) -> Result<(), StoreError> {
        let (next, to) = (to_i64(self.next), to_i64(self.to));
        let rows = self.store.with_client("reading records", |c| {
            c.query(
                "SELECT seq, frame FROM coopledger.records WHERE seq >= $1 AND seq <= $2 \
                 ORDER BY seq LIMIT $3",
                &[&next, &to, &RECORDS_PER_FETCH],
            )
        })?;
        let full = rows.len() as i64 == RECORDS_PER_FETCH;
        for row in rows {
            let seq = to_u64("a sequence", row.get(0))?;
            self.page.push_back((seq, row.get(1)));
        }
        self.next = match self.page.back() {
            Some((seq, _)) if full => seq + 1,
            _ => self.to.saturating_add(1),
        };
        Ok(())
    }
}

impl Iterator for RangeRead<'_> {
    type Item = Result<(RecordKey, Value), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.page.is_empty()
            && self.next <= self.to
            && let Err(e) = self.fetch()
        {
            self.failed = true;
            return Some(Err(e));
        }
        let (seq, frame) = self.page.pop_front()?;
        Some(Ok((RecordKey::Seq(seq), Value::owned(frame))))
    }
}

impl Backend for PgStore {
    fn location(&self) -> String {
        self.target.shown.clone()
    }

    fn commit(&self, group: &Group<'_>) -> Result<Duration, StoreError> {
        group.check()?;
        let Some(writer) = &self.writer else {
            return Err(StoreError::Io(format!(
                "{} was opened to read: it writes nothing",
                self.target.shown
            )));
        };
        let (took, (seq, hash)) = off_runtime(|| {
            let mut writer = writer.lock();
            writer.commit(group).map(|took| (took, writer.head()))
        })?;
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        self.counters.sync_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        // The versions kept and the horizon move together: a reader of the table that asked at
        // the old horizon keeps what it found only if the horizon has not moved since
        // (`stream_versions`).
        let mut versions = self.versions.lock();
        {
            let mut seen = self.seen.write();
            for row in &group.records {
                Self::keep_version(&mut versions, row.stream, row.stream_version);
                seen.ids.insert(row.event_id.as_bytes());
                seen.streams.insert(row.stream.to_string().as_bytes());
            }
        }
        self.advance(Horizon { seq, hash });
        drop(versions);
        Ok(took)
    }

    fn head(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        let h = self.horizon();
        Ok((h.seq > 0).then_some((h.seq, h.hash)))
    }

    fn records(&self, from: u64, to: u64) -> Records<'_> {
        let to = to.min(self.horizon().seq);
        Box::new(RangeRead {
            store: self,
            next: from.max(1),
            to,
            page: VecDeque::new(),
            failed: false,
        })
    }

    fn record(&self, seq: u64) -> Result<Option<Value>, StoreError> {
        if seq == 0 || seq > self.horizon().seq {
            return Ok(None);
        }
        let row = self.with_client("reading a record", |c| {
            c.query_opt(
                "SELECT frame FROM coopledger.records WHERE seq = $1",
                &[&to_i64(seq)],
            )
        })?;
        Ok(row.map(|row| Value::owned(row.get(0))))
    }

    fn seqs_of(&self, ids: &[Uuid]) -> Result<Vec<Option<u64>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if self.writer.is_some() {
            // Only the ids the filter may hold are asked of the table.
            let maybe: Vec<Uuid> = {
                let seen = self.seen.read();
                ids.iter()
                    .filter(|id| seen.ids.may_contain(id.as_bytes()))
                    .copied()
                    .collect()
            };
            if maybe.len() < ids.len() {
                let found = if maybe.is_empty() {
                    Vec::new()
                } else {
                    self.seqs_of_table(&maybe)?
                };
                let found: HashMap<Uuid, Option<u64>> = maybe.into_iter().zip(found).collect();
                return Ok(ids
                    .iter()
                    .map(|id| found.get(id).copied().flatten())
                    .collect());
            }
        }
        self.seqs_of_table(ids)
    }

    fn stream_seqs(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        self.stream_seqs_table(stream, from_version, limit)
    }

    /// The columns of the records' rows against their frames (what every reader's lookups
    /// use, under the table's unique constraints), then, on the writer, the lookups of its
    /// memory.
    fn check_index(&self, rows: &[IndexRow]) -> Result<Option<(u64, String)>, StoreError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(None);
        };
        let stored = self.with_client("reading the records' columns", |c| {
            c.query(
                "SELECT seq, event_id, stream, stream_version FROM coopledger.records \
                 WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&to_i64(first.seq), &to_i64(last.seq)],
            )
        })?;
        let mut stored = stored.into_iter();
        for row in rows {
            let Some(columns) = stored.next() else {
                return Ok(Some((row.seq, "its row is missing".into())));
            };
            let seq = to_u64("a sequence", columns.get(0))?;
            let event_id: Uuid = columns.get(1);
            let stream: String = columns.get(2);
            let version = to_u64("a stream version", columns.get(3))?;
            if seq != row.seq
                || event_id != row.event_id
                || stream != row.stream.to_string()
                || version != row.stream_version
            {
                return Ok(Some((
                    row.seq,
                    format!(
                        "its row's columns say sequence {seq}, event id {event_id}, {stream} \
                         version {version}; its frame says event id {}, {} version {}",
                        row.event_id, row.stream, row.stream_version
                    ),
                )));
            }
        }
        Ok(None)
    }

    fn stream_version(&self, stream: &Stream) -> Result<u64, StoreError> {
        Ok(self
            .stream_versions(std::slice::from_ref(stream))?
            .pop()
            .unwrap_or(0))
    }

    /// A writer answers from the versions it keeps, and asks the table for the others in one
    /// query (keeping them); a reader asks the table for all.
    fn stream_versions(&self, streams: &[Stream]) -> Result<Vec<u64>, StoreError> {
        let mut found: Vec<Option<u64>> = if self.writer.is_some() {
            // Kept, or new (the filter does not hold it), or asked of the table.
            let versions = self.versions.lock();
            let seen = self.seen.read();
            streams
                .iter()
                .map(|s| {
                    versions.get(s).copied().or_else(|| {
                        (!seen.streams.may_contain(s.to_string().as_bytes())).then_some(0)
                    })
                })
                .collect()
        } else {
            vec![None; streams.len()]
        };
        let missing: Vec<String> = streams
            .iter()
            .zip(&found)
            .filter(|(_, v)| v.is_none())
            .map(|(s, _)| s.to_string())
            .collect();
        if !missing.is_empty() {
            let asked_at = self.horizon().seq;
            let horizon = to_i64(asked_at);
            let rows = self.with_client("reading streams' versions", |c| {
                c.query(
                    "SELECT stream, max(stream_version) FROM coopledger.records \
                     WHERE stream = ANY($1) AND seq <= $2 GROUP BY stream",
                    &[&missing, &horizon],
                )
            })?;
            let mut asked: HashMap<String, u64> =
                HashMap::with_capacity_and_hasher(rows.len(), Default::default());
            for row in rows {
                asked.insert(row.get(0), to_u64("a stream version", row.get(1))?);
            }
            // Kept only when no commit came between the question and now (see `commit`).
            let mut versions = self.writer.as_ref().map(|_| self.versions.lock());
            if self.horizon().seq != asked_at {
                versions = None;
            }
            for (stream, slot) in streams.iter().zip(found.iter_mut()) {
                if slot.is_none() {
                    let version = asked.get(&stream.to_string()).copied().unwrap_or(0);
                    *slot = Some(version);
                    if let Some(versions) = versions.as_deref_mut()
                        && !versions.contains_key(stream)
                    {
                        Self::keep_version(versions, stream, version);
                    }
                }
            }
        }
        Ok(found.into_iter().map(|v| v.unwrap_or(0)).collect())
    }

    fn index_watermark(&self) -> Result<u64, StoreError> {
        // The index is the table's: always complete.
        Ok(self.horizon().seq)
    }

    fn index_tail(&self, _rows: &[IndexRow]) -> Result<(), StoreError> {
        Ok(())
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        let stored = match &self.writer {
            Some(writer) => writer.lock().tree_size(),
            None => {
                let row = self.with_client("reading the tree size", |c| {
                    c.query_one("SELECT tree_size FROM coopledger.head", &[])
                })?;
                to_u64("the tree size", row.get(0))?
            }
        };
        Ok(stored.min(self.horizon().seq))
    }

    fn tile(&self, level: u8, index: u64) -> Result<Option<Value>, StoreError> {
        let row = self.with_client("reading a tile", |c| {
            c.query_opt(
                "SELECT hashes FROM coopledger.tiles WHERE level = $1 AND index = $2",
                &[&i16::from(level), &to_i64(index)],
            )
        })?;
        Ok(row.map(|row| Value::owned(row.get(0))))
    }

    fn latest_checkpoint(&self, at_most: u64) -> Result<Option<(u64, Value)>, StoreError> {
        let horizon = to_i64(self.horizon().seq.min(at_most));
        let row = self.with_client("reading checkpoints", |c| {
            c.query_opt(
                "SELECT tree_size, note FROM coopledger.checkpoints WHERE tree_size <= $1 \
                 ORDER BY tree_size DESC, n DESC LIMIT 1",
                &[&horizon],
            )
        })?;
        row.map(|row| {
            let note: String = row.get(1);
            Ok((
                to_u64("a checkpoint's size", row.get(0))?,
                Value::owned(note.into_bytes()),
            ))
        })
        .transpose()
    }

    fn view_part(&self, part: &[u8]) -> Result<Option<Value>, StoreError> {
        let row = self.with_client("reading a view part", |c| {
            c.query_opt(
                "SELECT value FROM coopledger.views WHERE part = $1",
                &[&part],
            )
        })?;
        Ok(row.map(|row| Value::owned(row.get(0))))
    }

    fn view_parts(&self, prefix: &[u8]) -> ViewParts<'_> {
        let prefix_len = i32::try_from(prefix.len()).unwrap_or(i32::MAX);
        let rows = self.with_client("reading view parts", |c| {
            c.query(
                "SELECT part, value FROM coopledger.views WHERE substring(part FROM 1 FOR $2) = $1 \
                 ORDER BY part",
                &[&prefix, &prefix_len],
            )
        });
        match rows {
            Ok(rows) => Box::new(
                rows.into_iter()
                    .map(|row| Ok((row.get::<_, Vec<u8>>(0), Value::owned(row.get(1))))),
            ),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn witness(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        // The database is its own witness: it never drops a committed tail silently.
        Ok(None)
    }

    fn counters(&self) -> &SyncCounters {
        &self.counters
    }

    fn wait_for_head(
        &self,
        after: u64,
        timeout: Duration,
    ) -> Result<Option<(u64, Hash)>, StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.writer.is_none() {
                let acked = self.read_acked()?;
                self.advance(acked);
            }
            let horizon = self.horizon();
            let left = deadline.saturating_duration_since(Instant::now());
            if horizon.seq > after || left.is_zero() {
                return self.head();
            }
            if self.writer.is_some() {
                // Only this handle's commits move a writer's head.
                let mut guard = self.moved.0.lock();
                if self.horizon().seq <= after {
                    self.moved.1.wait_for(&mut guard, left);
                }
            } else {
                self.wait_notified(left);
            }
        }
    }
}
