//! The storage boundary: a log-shaped interface ([`Backend`]) with two implementations, sled in
//! a directory ([`sled`], the embedded default) and PostgreSQL with a synchronous standby
//! (`postgres`, for a ledger that must survive the loss of a machine and serve several API
//! nodes). Nothing above this module knows which one it talks to.
//!
//! A backend offers what a log needs and nothing more, in the log's own terms:
//!
//! - commit one [`Group`] — records (their frames, with the columns an index needs), Merkle
//!   tiles, view parts, the new head, a checkpoint — atomically and durably: when
//!   [`Backend::commit`] returns `Ok`, all of it survives a crash (and, for PostgreSQL, the loss
//!   of the primary); when it returns `Err`, the caller must stop writing (fail-stop) and
//!   acknowledge nothing of the group;
//! - read records by sequence and by range, the head, the tiles, the checkpoints, the views;
//! - answer the index lookups of the log: the sequence of an event id, the sequences of a stream.
//!
//! A third implementation, [`overlay`], layers a throwaway sled store over either one for
//! writes that are never acknowledged (`import --check`).
//!
//! The records are stored byte for byte as framed by the ledger (`docs/format.md`), so the hash
//! chain, the Merkle tiles, checkpoints and receipts are identical on every backend.
//!
//! Invariants every backend keeps (the conformance tests check them on both):
//! - records are gap-free from 1 and never change once committed;
//! - the head names the last committed record (what readers may read);
//! - every lookup answers from committed groups only;
//! - no value above [`MAX_VALUE_LEN`] is written, checked on every write path.

pub(crate) mod filter;
pub mod overlay;
pub mod postgres;
pub mod sled;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use proto_events::{EventType, Hash, Stream, Timestamp};
use uuid::Uuid;

/// The largest value any backend stores (a record frame, a tile, a view part); event bodies are
/// limited to 64 KiB by the ledger. (sled writes pages above 128 KiB to blob files, which the
/// sled store syncs itself: `sled::SledStore`.)
pub const MAX_VALUE_LEN: usize = 96 * 1024;

/// A storage failure. Domain rejections never come from here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another handle in this one) has the store open.
    #[error("ledger at {} is in use by another process (or another handle in this one)", .0.display())]
    InUse(PathBuf),
    /// The directory exists, is not empty and is not a coopledger store; it is left untouched.
    #[error("{} is not a coopledger ledger (no {} file) and is not empty; refusing to touch it", .0.display(), sled::MARKER_FILE)]
    NotALedger(PathBuf),
    /// There is no ledger at this location (and the operation does not create one).
    #[error("no ledger at {0}")]
    Missing(String),
    /// The store was written by a format this build does not know.
    #[error(
        "ledger at {location} has format version {found}; this build reads versions up to {}",
        sled::FORMAT_VERSION
    )]
    UnknownFormat {
        /// The store.
        location: String,
        /// The version found.
        found: String,
    },
    /// A value too large for safe storage.
    #[error("value of {len} bytes exceeds the store's limit of {MAX_VALUE_LEN}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
    },
    /// An I/O error from the backend or the file system.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// The backend reported damaged data.
    #[error("storage corrupted: {0}")]
    Corrupt(String),
    /// A ledger is already there (creating one refuses to touch it).
    #[error("{0} is already a ledger")]
    Exists(String),
    /// A location that cannot be used as written (a malformed URL, an unknown option).
    #[error("--db {location}: {why}")]
    BadLocation {
        /// The location, its password hidden.
        location: String,
        /// What is wrong.
        why: String,
    },
    /// A PostgreSQL writer refused to start: nothing it acknowledged would be on a standby.
    #[error(
        "refusing to write to {location}: no synchronous standby is configured and streaming ({found}); \
         an acknowledged append must survive the loss of the primary. For a single-node setup \
         without that guarantee, add ?coopledger_single_node=true to the URL"
    )]
    NoSyncStandby {
        /// The database, its password hidden.
        location: String,
        /// What the server says.
        found: String,
    },
    /// Another writer took over this ledger: this one writes nothing more.
    #[error(
        "this writer was fenced at {location}: another writer took over (epoch {found}, this \
         writer's {epoch}); it writes nothing more"
    )]
    Fenced {
        /// The database, its password hidden.
        location: String,
        /// This writer's epoch.
        epoch: i64,
        /// The epoch in the head row.
        found: i64,
    },
    /// A commit that returned without the synchronous standby's confirmation: committed on the
    /// primary only, so not acknowledged (the writer stops; the next writer adopts the group
    /// once it is replicated).
    #[error("not acknowledged: the commit returned without the standby's confirmation ({0})")]
    NotAcknowledged(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// A stored value: a cheap, reference-counted byte slice (a whole sled value, part of a
/// record block, or bytes read from PostgreSQL).
#[derive(Clone)]
pub struct Value {
    buf: Buf,
    start: usize,
    end: usize,
}

#[derive(Clone)]
enum Buf {
    Sled(::sled::IVec),
    Owned(Arc<[u8]>),
}

impl Value {
    /// A value holding `bytes`.
    #[must_use]
    pub fn owned(bytes: Vec<u8>) -> Self {
        let end = bytes.len();
        Value {
            buf: Buf::Owned(bytes.into()),
            start: 0,
            end,
        }
    }

    fn sled(ivec: ::sled::IVec) -> Self {
        let end = ivec.len();
        Value {
            buf: Buf::Sled(ivec),
            start: 0,
            end,
        }
    }

    /// The part `range` of this value, sharing its buffer.
    fn slice(&self, range: std::ops::Range<usize>) -> Option<Self> {
        (range.start <= range.end && range.end <= self.len()).then(|| Value {
            buf: self.buf.clone(),
            start: self.start + range.start,
            end: self.start + range.end,
        })
    }
}

impl Deref for Value {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.buf {
            Buf::Sled(ivec) => ivec,
            Buf::Owned(bytes) => bytes,
        };
        all.get(self.start..self.end).unwrap_or_default()
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value({} bytes)", self.len())
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Value {}

/// How a record's key reads: the sequence it holds, or the raw bytes of a key in the record
/// space that is not a record key (the walk names it as damage at the sequence it expected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    /// A well-formed record key.
    Seq(u64),
    /// A key in the record space of another shape.
    Malformed(Vec<u8>),
    /// Stored records that cannot be read apart (a damaged block), and why.
    Damaged(String),
}

/// One record of a group: its frame as the ledger built it, and the columns an index (or an
/// operator reading SQL) needs, which the ledger takes from the same event.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Its sequence.
    pub seq: u64,
    /// Its event id (unique in the log).
    pub event_id: Uuid,
    /// Its stream.
    pub stream: &'a Stream,
    /// Its version within the stream (unique with the stream).
    pub stream_version: u64,
    /// When the ledger recorded it.
    pub recorded_at: Timestamp,
    /// Its event type.
    pub event_type: EventType,
    /// The record frame, byte for byte.
    pub frame: &'a [u8],
}

/// What the index of a backend keeps of one record (see [`Backend::index_tail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// Its sequence.
    pub seq: u64,
    /// Its event id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream: Stream,
    /// Its version within the stream.
    pub stream_version: u64,
}

/// One part of the stored views to write (see `docs/format.md`, "Stored views").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewWrite {
    /// Delete every stored view part (first, before the puts of the same group).
    ClearAll,
    /// Store `value` under `part`.
    Put(Vec<u8>, Vec<u8>),
    /// Delete `part`.
    Delete(Vec<u8>),
}

/// A stored Merkle tile: level, index and its hashes (32 bytes each, concatenated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileWrite {
    /// Tile level.
    pub level: u8,
    /// Tile index within the level.
    pub index: u64,
    /// The hashes, concatenated.
    pub hashes: Vec<u8>,
}

/// Everything one commit writes, applied all together or not at all.
#[derive(Debug, Default)]
pub struct Group<'a> {
    /// Records, ascending and contiguous, the first one right after the current head.
    pub records: Vec<Row<'a>>,
    /// Merkle tiles written or rewritten.
    pub tiles: Vec<TileWrite>,
    /// The number of leaves the tiles now cover.
    pub tree_size: Option<u64>,
    /// View parts.
    pub views: Vec<ViewWrite>,
    /// The new head (the last record's sequence and hash).
    pub head: Option<(u64, Hash)>,
    /// A signed checkpoint to keep, by tree size.
    pub checkpoint: Option<(u64, String)>,
}

impl Group<'_> {
    /// Whether the group writes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.tiles.is_empty()
            && self.tree_size.is_none()
            && self.views.is_empty()
            && self.head.is_none()
            && self.checkpoint.is_none()
    }

    /// Checks what every backend must refuse to write: records that do not follow each other,
    /// a head that is not the last record, a value over [`MAX_VALUE_LEN`].
    ///
    /// # Errors
    /// [`StoreError::ValueTooLarge`].
    ///
    /// # Panics
    /// When the records are not contiguous or the head is not the last record: the single
    /// writer assigns sequences one by one, so anything else is a bug that must not reach the
    /// disk.
    pub fn check(&self) -> Result<(), StoreError> {
        for pair in self.records.windows(2) {
            assert_eq!(
                pair[1].seq,
                pair[0].seq + 1,
                "records {} and {} are not contiguous",
                pair[0].seq,
                pair[1].seq
            );
        }
        if let (Some((head, _)), Some(last)) = (&self.head, self.records.last()) {
            assert_eq!(
                *head, last.seq,
                "head {head} is not the last record {}",
                last.seq
            );
        }
        let values = self
            .records
            .iter()
            .map(|r| r.frame.len())
            .chain(self.tiles.iter().map(|t| t.hashes.len()))
            .chain(self.views.iter().map(|v| match v {
                ViewWrite::Put(_, value) => value.len(),
                _ => 0,
            }))
            .chain(self.checkpoint.iter().map(|(_, note)| note.len()));
        for len in values {
            if len > MAX_VALUE_LEN {
                return Err(StoreError::ValueTooLarge { len });
            }
        }
        Ok(())
    }
}

/// Counters of a backend's durable commits, for metrics and for proving durability happens.
#[derive(Debug, Default)]
pub struct SyncCounters {
    /// Completed syncs.
    pub syncs: AtomicU64,
    /// Total time spent syncing, in microseconds.
    pub sync_micros: AtomicU64,
}

/// The records of a range, in order (see [`Backend::records`]).
pub type Records<'a> = Box<dyn Iterator<Item = Result<(RecordKey, Value), StoreError>> + Send + 'a>;

/// Stored view parts (see [`Backend::view_parts`]).
pub type ViewParts<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Value), StoreError>> + Send + 'a>;

/// A log-shaped store. See the module documentation for what every implementation promises.
pub trait Backend: Send + Sync {
    /// Where the store is, for messages ("DIR", "postgresql://host/db").
    fn location(&self) -> String;

    /// Writes `group` atomically and durably (see the module documentation). Returns the time
    /// its sync took.
    ///
    /// # Errors
    /// [`StoreError::ValueTooLarge`] (nothing written), or a failure after which the outcome is
    /// unknown to the caller: it must stop writing and acknowledge nothing of the group.
    fn commit(&self, group: &Group<'_>) -> Result<Duration, StoreError>;

    /// The stored head: the last committed record's sequence and hash, `None` for an empty log.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when malformed; I/O errors.
    fn head(&self) -> Result<Option<(u64, Hash)>, StoreError>;

    /// The records with sequences `from..=to` that are stored, in order, with every other key of
    /// the record space met in that range named as [`RecordKey::Malformed`]. Gaps are the
    /// caller's to find (`ledger::walk` does).
    fn records(&self, from: u64, to: u64) -> Records<'_>;

    /// The frame of record `seq`, if stored.
    ///
    /// # Errors
    /// I/O errors.
    fn record(&self, seq: u64) -> Result<Option<Value>, StoreError>;

    /// The sequence of each event id, if committed.
    ///
    /// # Errors
    /// I/O errors.
    fn seqs_of(&self, ids: &[Uuid]) -> Result<Vec<Option<u64>>, StoreError>;

    /// The sequences of `stream`'s versions `from_version..` (1-based), at most `limit`, in
    /// order.
    ///
    /// # Errors
    /// I/O errors.
    fn stream_seqs(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError>;

    /// The version of `stream` (its number of records; 0 when it does not exist).
    ///
    /// # Errors
    /// I/O errors.
    fn stream_version(&self, stream: &Stream) -> Result<u64, StoreError>;

    /// The versions of several streams at once (a writer asks for those of a whole group
    /// before deciding it: one round trip on PostgreSQL).
    ///
    /// # Errors
    /// I/O errors.
    fn stream_versions(&self, streams: &[Stream]) -> Result<Vec<u64>, StoreError> {
        streams.iter().map(|s| self.stream_version(s)).collect()
    }

    /// The last sequence the index covers by itself. The records after it (up to the head) must
    /// be given to [`Backend::index_tail`] when the ledger opens; a backend whose index is
    /// always complete answers the head.
    ///
    /// # Errors
    /// I/O errors.
    fn index_watermark(&self) -> Result<u64, StoreError>;

    /// Tells the index the records after its watermark, in order (read and checked by the
    /// ledger's walk at open).
    ///
    /// # Errors
    /// I/O errors.
    fn index_tail(&self, rows: &[IndexRow]) -> Result<(), StoreError>;

    /// Checks the index against records read from the log (`verify` gives it every record):
    /// each row's event id must lead to its sequence, and its stream's version too. Returns the
    /// first row that disagrees, with what the index says instead.
    ///
    /// The default asks [`Backend::seqs_of`] and [`Backend::stream_seqs`], as appends do
    /// ([`check_index_by_lookups`]).
    ///
    /// # Errors
    /// I/O errors.
    fn check_index(&self, rows: &[IndexRow]) -> Result<Option<(u64, String)>, StoreError> {
        check_index_by_lookups(self, rows)
    }

    /// Starts a check of the whole index against the log, which the caller then feeds every
    /// record, in order from the first ([`IndexCheck::feed`]).
    ///
    /// The default checks each row fed by [`Backend::check_index`]; sled reads its index once,
    /// in order, instead of looking every record up.
    ///
    /// # Errors
    /// I/O errors; [`StoreError::Corrupt`] when the index cannot be read.
    fn index_check(&self) -> Result<Box<dyn IndexCheck + '_>, StoreError> {
        Ok(Box::new(RowByRow(self)))
    }

    /// The number of leaves the stored Merkle tiles cover (0 when none).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when malformed; I/O errors.
    fn tree_size(&self) -> Result<u64, StoreError>;

    /// One stored Merkle tile.
    ///
    /// # Errors
    /// I/O errors.
    fn tile(&self, level: u8, index: u64) -> Result<Option<Value>, StoreError>;

    /// The stored checkpoint of the largest tree size up to `at_most` records, if any (a reader
    /// never serves one beyond its head).
    ///
    /// # Errors
    /// I/O errors.
    fn latest_checkpoint(&self, at_most: u64) -> Result<Option<(u64, Value)>, StoreError>;

    /// One stored view part.
    ///
    /// # Errors
    /// I/O errors.
    fn view_part(&self, part: &[u8]) -> Result<Option<Value>, StoreError>;

    /// Every stored view part whose name starts with `prefix`, in order, as (part, value).
    fn view_parts(&self, prefix: &[u8]) -> ViewParts<'_>;

    /// The last record known durable by a witness kept outside the store, if the backend keeps
    /// one (sled does: it can lose a damaged log's tail silently; see `docs/format.md`).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the witness is malformed.
    fn witness(&self) -> Result<Option<(u64, Hash)>, StoreError>;

    /// Housekeeping the writer does between groups (sled: flushing and merging the index when
    /// due), one bounded step at a time. Returns whether another step is due.
    ///
    /// # Errors
    /// As [`Backend::commit`]: the caller must stop writing.
    fn maintain(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Brings the stored layout to this build's format in place (sled: packs records stored one
    /// per key into blocks), resumable after any interruption, reporting the last sequence
    /// moved; returns the number of records moved.
    ///
    /// # Errors
    /// I/O errors (run it again to continue).
    fn migrate_layout(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, StoreError> {
        let _ = progress;
        Ok(0)
    }

    /// Sync counters.
    fn counters(&self) -> &SyncCounters;

    /// Waits until the head this store serves is past `after`, or `timeout` has passed, and
    /// returns the head it serves then. A store other processes write to (PostgreSQL read
    /// with [`Access::Read`]) moves what it serves forward to the acknowledged head here, and
    /// only here, so that its reads stay consistent between calls; a store only its own handle
    /// writes moves with each commit.
    ///
    /// The default polls [`Backend::head`].
    ///
    /// # Errors
    /// I/O errors.
    fn wait_for_head(
        &self,
        after: u64,
        timeout: Duration,
    ) -> Result<Option<(u64, Hash)>, StoreError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let head = self.head()?;
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if head.is_some_and(|(seq, _)| seq > after) || left.is_zero() {
                return Ok(head);
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// [`Backend::check_index`] by the lookups appends make: each row's event id through
/// [`Backend::seqs_of`], its stream version through [`Backend::stream_seqs`], rows in parallel.
///
/// # Errors
/// I/O errors.
pub fn check_index_by_lookups<B: Backend + ?Sized>(
    store: &B,
    rows: &[IndexRow],
) -> Result<Option<(u64, String)>, StoreError> {
    use rayon::prelude::*;
    let said =
        |seq: Option<u64>| seq.map_or_else(|| "nothing".to_owned(), |s| format!("sequence {s}"));
    // The lookups are independent reads: run in parallel, the first disagreement in log order
    // is the answer.
    let check = |row: &IndexRow| -> Result<Option<(u64, String)>, StoreError> {
        let seq = store
            .seqs_of(std::slice::from_ref(&row.event_id))?
            .pop()
            .flatten();
        if seq != Some(row.seq) {
            return Ok(Some((
                row.seq,
                format!(
                    "the index gives its event id {} as {}",
                    row.event_id,
                    said(seq)
                ),
            )));
        }
        let found = store
            .stream_seqs(&row.stream, row.stream_version, 1)?
            .first()
            .copied();
        if found != Some(row.seq) {
            return Ok(Some((
                row.seq,
                format!(
                    "the index gives {} version {} as {}",
                    row.stream,
                    row.stream_version,
                    said(found)
                ),
            )));
        }
        Ok(None)
    };
    rows.par_iter()
        .with_min_len(256)
        .map(check)
        .find_first(|answer| !matches!(answer, Ok(None)))
        .unwrap_or(Ok(None))
}

/// A check of a store's index against the log, fed every record in order from the first (see
/// [`Backend::index_check`]).
pub trait IndexCheck {
    /// The next records of the log, following those fed before.
    ///
    /// # Errors
    /// I/O errors.
    fn feed(&mut self, rows: &[IndexRow]) -> Result<IndexVerdict, StoreError>;
}

/// What an [`IndexCheck`] found so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexVerdict {
    /// The index agrees with every record fed.
    Agrees,
    /// The index disagrees with record `seq`, for this reason.
    Record(u64, String),
    /// The index's entries for records `first..=last` differ from those records, for this
    /// reason; which record they lead astray is for [`check_index_by_lookups`] to name.
    Range {
        /// The first record of the range.
        first: u64,
        /// The last record of the range.
        last: u64,
        /// What differs.
        reason: String,
    },
}

impl IndexVerdict {
    fn of(found: Option<(u64, String)>) -> Self {
        found.map_or(IndexVerdict::Agrees, |(seq, reason)| {
            IndexVerdict::Record(seq, reason)
        })
    }
}

/// The default [`IndexCheck`]: each row by [`Backend::check_index`].
struct RowByRow<'a, B: ?Sized>(&'a B);

impl<B: Backend + ?Sized> IndexCheck for RowByRow<'_, B> {
    fn feed(&mut self, rows: &[IndexRow]) -> Result<IndexVerdict, StoreError> {
        self.0.check_index(rows).map(IndexVerdict::of)
    }
}

/// What a store is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading only: nothing is written, and a PostgreSQL handle takes no writer's role.
    Read,
    /// Writing to an existing store (a PostgreSQL handle takes over as the writer).
    Write,
    /// Writing, and a missing or empty directory becomes a new sled store. A PostgreSQL schema
    /// is never created this way (`coopledger init` creates it).
    Create,
}

/// The store of one ledger: a backend behind the boundary.
pub type Store = Box<dyn Backend>;

/// Where a ledger lives: a directory (sled) or a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A sled directory.
    Dir(PathBuf),
    /// A `postgres://` or `postgresql://` URL, in libpq's form.
    Postgres(String),
}

impl Location {
    /// Reads `--db`: a `postgres://` / `postgresql://` URL, else a directory.
    #[must_use]
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else {
            Location::Dir(PathBuf::from(text))
        }
    }

    /// The location as given, for messages (a URL's password is never shown).
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

impl From<&Path> for Location {
    fn from(dir: &Path) -> Self {
        Location::Dir(dir.to_owned())
    }
}

/// A URL with its password replaced by `***`.
#[must_use]
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            let slash = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{shown}@{hosts}{slash}{tail}")
        }
        None => url.to_owned(),
    }
}

/// Opens the store at `location` for `access`: with [`Access::Create`], a missing or empty
/// directory becomes a new store (PostgreSQL stores are created with [`create`] only).
///
/// # Errors
/// [`StoreError::Missing`], [`StoreError::InUse`], [`StoreError::NotALedger`],
/// [`StoreError::UnknownFormat`]; for PostgreSQL also [`StoreError::BadLocation`] and
/// [`StoreError::NoSyncStandby`]; I/O errors.
pub fn open(location: &Location, access: Access) -> Result<Store, StoreError> {
    match location {
        Location::Dir(dir) => {
            let store = if access == Access::Create {
                sled::SledStore::open(dir)?
            } else {
                sled::SledStore::open_existing(dir)?
            };
            Ok(Box::new(store))
        }
        Location::Postgres(url) => Ok(Box::new(postgres::PgStore::open(url, access)?)),
    }
}

/// Creates a new, empty store at `location`: a sled store in a missing or empty directory, or
/// the schema of a PostgreSQL ledger (tables, constraints, append-only triggers, a writer and a
/// reader role).
///
/// # Errors
/// [`StoreError::Exists`] when a ledger is there; as [`open`].
pub fn create(location: &Location) -> Result<(), StoreError> {
    match location {
        Location::Dir(dir) => {
            if sled::SledStore::open_existing(dir).is_ok() {
                return Err(StoreError::Exists(dir.display().to_string()));
            }
            sled::SledStore::open(dir).map(drop)
        }
        Location::Postgres(url) => postgres::init(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_a_location() {
        assert_eq!(
            redact(
                "postgresql://writer:s3cret@db1,db2:5433/ledger?target_session_attrs=read-write"
            ),
            "postgresql://writer:***@db1,db2:5433/ledger?target_session_attrs=read-write"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h"), "postgres://h");
        assert_eq!(
            Location::parse("./coopledger-data"),
            Location::Dir("./coopledger-data".into())
        );
    }
}
