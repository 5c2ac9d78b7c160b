//! The storage boundary: the only module that touches sled.
//!
//! It offers what a log needs and nothing more, in the log's own terms: commit one [`Group`]
//! (records, Merkle tiles, view parts, the new head, a checkpoint) atomically and durably; read
//! records by sequence and by range; read the head, the tiles, the checkpoints and the view parts.
//! Nothing above it sees a sled type or builds a key, so another backend (a replicated one, for
//! users who outgrow one machine) can sit beside it.
//!
//! Durability: sled's `flush()` writes its log but on Linux only issues `sync_file_range`, which
//! survives a killed process but not a power cut. [`Store::commit`] therefore applies the group
//! as one sled batch (atomic: after a crash all of it or none of it is there), flushes, and then
//! `fdatasync`s the data file itself (and, when sled has written new snapshot files, those and the
//! directory). Only then does it write the witness file (see [`Store::witness`]) and return: a
//! caller acknowledges nothing before `commit` returns.
//!
//! Limits: no value above [`MAX_VALUE_LEN`] is ever written (sled moves larger values into blob
//! files that it never fsyncs), checked on every write path, here.

pub mod keys;

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proto_events::Hash;

/// The ledger format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The file that marks a directory as a coopledger store.
pub const MARKER_FILE: &str = "COOPLEDGER";
/// How long an opener waits for a lock that may be being released.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);
/// The file outside sled that remembers the last durable record (see [`Store::write_witness`]).
pub const WITNESS_FILE: &str = "HEAD";
/// The witness's fixed size: `"coopledger-head 1 "`, 20 digits, a space, 64 hex digits, `\n`.
const WITNESS_LEN: usize = 18 + 20 + 1 + 64 + 1;
/// The largest value the store accepts: sled moves values above about 128 KiB into separate blob
/// files that it never fsyncs, so everything stays well below.
pub const MAX_VALUE_LEN: usize = 96 * 1024;

/// A storage failure. Domain rejections never come from here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another handle in this one) has the store open.
    #[error("ledger at {} is in use by another process (or another handle in this one)", .0.display())]
    InUse(PathBuf),
    /// The directory exists, is not empty and is not a coopledger store; it is left untouched.
    #[error("{} is not a coopledger ledger (no {MARKER_FILE} file) and is not empty; refusing to touch it", .0.display())]
    NotALedger(PathBuf),
    /// There is no ledger at this path (and the operation does not create one).
    #[error("no ledger at {}", .0.display())]
    Missing(PathBuf),
    /// The store was written by a format this build does not know.
    #[error("ledger at {} has format version {found}; this build reads version {FORMAT_VERSION}", .dir.display())]
    UnknownFormat {
        /// The store.
        dir: PathBuf,
        /// The version found.
        found: String,
    },
    /// A value too large for safe storage.
    #[error("value of {len} bytes exceeds the store's limit of {MAX_VALUE_LEN}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
    },
    /// An I/O error from sled or the file system.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// sled reported corruption.
    #[error("storage corrupted: {0}")]
    Corrupt(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { at, .. } => StoreError::Corrupt(match at {
                Some(at) => format!(
                    "sled found a damaged entry at offset {} of its data file `db`",
                    at.lid()
                ),
                None => "sled found a damaged entry in its data file `db`".into(),
            }),
            sled::Error::Io(io) => StoreError::Io(io.to_string()),
            sled::Error::Unsupported(what) => StoreError::Corrupt(format!(
                "sled cannot read its files: {what} (damaged, or written by another sled version)"
            )),
            other => StoreError::Io(format!("sled failed: {other}")),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// A stored value: a cheap reference-counted byte slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value(sled::IVec);

impl Deref for Value {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// How a record's key reads: the sequence it holds, or the raw bytes of a key in the record
/// space that is not a record key (the walk names it as damage at the sequence it expected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    /// A well-formed record key.
    Seq(u64),
    /// A key in the record space of another length.
    Malformed(Vec<u8>),
}

/// One part of the stored views to write (`V` ‖ part, see `docs/format.md`).
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
    /// Record frames by sequence, ascending and contiguous.
    pub records: Vec<(u64, &'a [u8])>,
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
}

/// The sled batch of a group, with every value checked against [`MAX_VALUE_LEN`].
struct Batch {
    inner: sled::Batch,
    ops: usize,
}

impl Batch {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(StoreError::ValueTooLarge { len: value.len() });
        }
        self.ops += 1;
        self.inner.insert(key, value);
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) {
        self.ops += 1;
        self.inner.remove(key);
    }
}

/// Counters of the store's durable syncs, for metrics and for proving fsync happens.
#[derive(Debug, Default)]
pub struct SyncCounters {
    /// Completed syncs (flush + fdatasync).
    pub syncs: AtomicU64,
    /// Total time spent syncing, in microseconds.
    pub sync_micros: AtomicU64,
}

/// The sled store of one ledger directory.
pub struct Store {
    /// Always `Some` until the store is dropped (see `Drop`).
    db: Option<sled::Db>,
    dir: PathBuf,
    /// The data file, kept open to fdatasync it after each flush.
    data_file: File,
    /// Snapshot files already synced, so new ones (and the directory) are synced once, and the
    /// directory's modification time when last listed (unchanged: nothing new to sync).
    synced_files: Mutex<(BTreeSet<String>, Option<std::time::SystemTime>)>,
    counters: SyncCounters,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store in `dir`, creating it when `dir` is missing or empty.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another handle holds it, [`StoreError::NotALedger`] for a
    /// non-empty foreign directory, [`StoreError::UnknownFormat`] for another format version.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_inner(dir, true)
    }

    /// Opens the store in `dir`, which must already be a ledger.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when `dir` does not exist or is empty; otherwise as
    /// [`Store::open`].
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        Self::open_inner(dir, false)
    }

    fn open_inner(dir: &Path, create: bool) -> Result<Store, StoreError> {
        let empty = fs::read_dir(dir).map(|mut d| d.next().is_none());
        if !create && !matches!(empty, Ok(false)) {
            return Err(StoreError::Missing(dir.to_owned()));
        }
        let created = !matches!(empty, Ok(false));
        prepare_dir(dir)?;
        let db = Self::open_sled(dir)?;
        let data_file = File::open(dir.join("db"))?;
        let store = Store {
            db: Some(db),
            dir: dir.to_owned(),
            data_file,
            synced_files: Mutex::new((BTreeSet::new(), None)),
            counters: SyncCounters::default(),
        };
        if created {
            // A new store's files must be durable before anything is acknowledged in it; an
            // existing one was synced by whoever wrote it.
            store.sync()?;
        }
        Ok(store)
    }

    /// Opens sled, waiting a moment for a lock that this process has only just released: sled
    /// unlocks its file when its last internal thread lets go of it, shortly after the handle
    /// is dropped. A lock still held after that is another opener's.
    fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            let opened = sled::Config::new()
                .path(dir)
                // Durability is ours: every write is followed by Store::sync, so the
                // background flusher would only add unsynchronised work.
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => return Ok(db),
                Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                    if waited >= LOCK_PATIENCE {
                        return Err(StoreError::InUse(dir.to_owned()));
                    }
                    std::thread::sleep(LOCK_RETRY);
                    waited += LOCK_RETRY;
                }
                Err(e @ (sled::Error::Corruption { .. } | sled::Error::Unsupported(_))) => {
                    return Err(StoreError::Corrupt(format!(
                        "sled cannot read its files in {}; they are damaged ({e})",
                        dir.display()
                    )));
                }
                Err(e) => return Err(StoreError::from(e)),
            }
        }
    }

    fn sled(&self) -> &sled::Db {
        // Taken only by `Drop`, after which no method can run.
        self.db
            .as_ref()
            .unwrap_or_else(|| unreachable!("the store is open"))
    }

    /// The store's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `group` as one atomic sled batch and makes it durable (flush, then fdatasync of
    /// the data file, then fsync of new snapshot files and the directory); then, when the group
    /// moves the head, writes the witness. Returns the time the sync took.
    ///
    /// # Errors
    /// [`StoreError::ValueTooLarge`] (nothing written) when a value exceeds [`MAX_VALUE_LEN`];
    /// otherwise an I/O error, after which the caller must stop writing (fail-stop): the group
    /// may or may not survive a crash, and nothing of it may be acknowledged.
    ///
    /// # Panics
    /// When the records are not ascending and contiguous, or the head is not the last record:
    /// the single writer assigns sequences one by one, so anything else is a bug that must not
    /// reach the disk.
    pub fn commit(&self, group: &Group<'_>) -> Result<Duration, StoreError> {
        let batch = self.batch_of(group)?;
        if batch.ops > 0 {
            crate::failpoint!("store::apply", StoreError::Io);
            self.sled().apply_batch(batch.inner)?;
        }
        let took = self.sync()?;
        if let Some((seq, hash)) = &group.head {
            self.write_witness(*seq, hash)?;
        }
        Ok(took)
    }

    fn batch_of(&self, group: &Group<'_>) -> Result<Batch, StoreError> {
        let mut batch = Batch {
            inner: sled::Batch::default(),
            ops: 0,
        };
        for pair in group.records.windows(2) {
            assert_eq!(
                pair[1].0,
                pair[0].0 + 1,
                "records {} and {} are not contiguous",
                pair[0].0,
                pair[1].0
            );
        }
        if let (Some((head, _)), Some((last, _))) = (&group.head, group.records.last()) {
            assert_eq!(head, last, "head {head} is not the last record {last}");
        }
        for (seq, frame) in &group.records {
            batch.put(&keys::event(*seq), frame)?;
        }
        for tile in &group.tiles {
            batch.put(&keys::tree(tile.level, tile.index), &tile.hashes)?;
        }
        if let Some(size) = group.tree_size {
            batch.put(keys::META_TREE, &size.to_be_bytes())?;
        }
        for write in &group.views {
            match write {
                ViewWrite::ClearAll => {
                    for item in self.sled().scan_prefix([keys::VIEW]) {
                        let (key, _) = item?;
                        batch.delete(&key);
                    }
                }
                ViewWrite::Put(part, value) => batch.put(&keys::view(part), value)?,
                ViewWrite::Delete(part) => batch.delete(&keys::view(part)),
            }
        }
        if let Some((seq, hash)) = &group.head {
            batch.put(keys::META_HEAD, &keys::head_value(*seq, hash))?;
        }
        if let Some((size, note)) = &group.checkpoint {
            batch.put(&keys::checkpoint(*size), note.as_bytes())?;
        }
        Ok(batch)
    }

    /// Makes everything applied so far durable: sled's flush, then fdatasync of the data file,
    /// then fsync of any snapshot file sled created since the last sync and of the directory.
    fn sync(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        crate::failpoint!("store::sync", StoreError::Io);
        self.sled().flush()?;
        self.data_file.sync_data()?;
        self.sync_new_files()?;
        let took = started.elapsed();
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        self.counters.sync_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(took)
    }

    fn sync_new_files(&self) -> Result<(), StoreError> {
        let mut guard = self.synced_files.lock();
        let (synced, listed_at) = &mut *guard;
        let modified = fs::metadata(&self.dir)?.modified().ok();
        // A directory's mtime is only as fine as the kernel's clock tick, so an unchanged mtime
        // proves nothing new only once it is old enough for any later change to show.
        let settled = modified
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(1));
        if settled && modified == *listed_at {
            return Ok(());
        }
        *listed_at = modified;
        let mut changed = false;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "db" || !entry.file_type()?.is_file() || synced.contains(&name) {
                continue;
            }
            File::open(entry.path())?.sync_all()?;
            synced.insert(name);
            changed = true;
        }
        if changed {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Sync counters.
    #[must_use]
    pub fn counters(&self) -> &SyncCounters {
        &self.counters
    }

    /// The stored head (`M head`): the last record's sequence and hash, `None` for an empty log.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the value is malformed; I/O errors.
    pub fn head(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        self.sled()
            .get(keys::META_HEAD)?
            .map(|v| {
                keys::parse_head_value(&v).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the stored head (M head) is {} bytes, not a sequence and a hash",
                        v.len()
                    ))
                })
            })
            .transpose()
    }

    /// The records with sequences `from..=to` that are stored, in key order, with every other
    /// key of the record space in that range named as [`RecordKey::Malformed`]. Gaps are the
    /// caller's to find ([`crate::ledger::walk`] does).
    pub fn records(
        &self,
        from: u64,
        to: u64,
    ) -> impl DoubleEndedIterator<Item = Result<(RecordKey, Value), StoreError>> + use<> {
        let end = keys::event(to.saturating_add(1));
        let end = if to == u64::MAX {
            vec![keys::EVENT + 1]
        } else {
            end.to_vec()
        };
        self.sled()
            .range(keys::event(from).to_vec()..end)
            .map(|item| {
                let (key, value) = item?;
                let key = match keys::event_seq(&key) {
                    Some(seq) => RecordKey::Seq(seq),
                    None => RecordKey::Malformed(key.to_vec()),
                };
                Ok((key, Value(value)))
            })
    }

    /// The frame of record `seq`, if stored.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn record(&self, seq: u64) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(keys::event(seq))?.map(Value))
    }

    /// The number of leaves the stored Merkle tiles cover (`M tree`; 0 when absent).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the value is malformed; I/O errors.
    pub fn tree_size(&self) -> Result<u64, StoreError> {
        match self.sled().get(keys::META_TREE)? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    StoreError::Corrupt(format!(
                        "the tree size (M tree) is {} bytes, not 8",
                        v.len()
                    ))
                }),
        }
    }

    /// One stored Merkle tile.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn tile(&self, level: u8, index: u64) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(keys::tree(level, index))?.map(Value))
    }

    /// The stored checkpoint of the largest tree size, if any (one step of a reverse scan).
    ///
    /// # Errors
    /// On an I/O error or a malformed checkpoint key.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Value)>, StoreError> {
        self.sled()
            .scan_prefix([keys::CHECKPOINT])
            .next_back()
            .map(|item| self.checkpoint_entry(item))
            .transpose()
    }

    fn checkpoint_entry(
        &self,
        item: sled::Result<(sled::IVec, sled::IVec)>,
    ) -> Result<(u64, Value), StoreError> {
        let (key, value) = item?;
        let size = keys::checkpoint_size(&key).ok_or_else(|| {
            StoreError::Corrupt(format!("a checkpoint key of {} bytes", key.len()))
        })?;
        Ok((size, Value(value)))
    }

    /// One stored view part.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn view_part(&self, part: &[u8]) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(keys::view(part))?.map(Value))
    }

    /// Every stored view part whose name starts with `prefix`, in order, as (part, value).
    pub fn view_parts(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Value), StoreError>> + use<> {
        self.sled().scan_prefix(keys::view(prefix)).map(|item| {
            let (key, value) = item?;
            Ok((keys::view_part(&key).to_vec(), Value(value)))
        })
    }

    /// Records, outside sled, the last record made durable (see [`Store::witness`]). Written
    /// after the sync of the records it names, in place and in one sector, without an fsync of
    /// its own: a crash can only leave it behind the log, never ahead, and behind is harmless.
    fn write_witness(&self, seq: u64, hash: &Hash) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        let text = format!(
            "coopledger-head 1 {seq:020} {}\n",
            proto_events::hash::to_hex(hash)
        );
        debug_assert_eq!(text.len(), WITNESS_LEN);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(WITNESS_FILE))?;
        file.write_all_at(text.as_bytes(), 0)?;
        Ok(())
    }

    /// The last durable record the witness file names, if the file exists. sled recovers from a
    /// damaged data file by silently dropping everything after the damage, so the ledger keeps
    /// its own memory, outside sled, of how far the log went, to tell a lost tail from a short
    /// log.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the file is malformed.
    pub fn witness(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        let text = match fs::read_to_string(self.dir.join(WITNESS_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bad = || StoreError::Corrupt(format!("the {WITNESS_FILE} file is malformed: {text:?}"));
        let rest = text.strip_prefix("coopledger-head 1 ").ok_or_else(bad)?;
        let (seq, hash) = rest.trim_end().split_once(' ').ok_or_else(bad)?;
        let seq = seq.parse().map_err(|_| bad())?;
        let hash = proto_events::hash::parse_hex(hash).ok_or_else(bad)?;
        Ok(Some((seq, hash)))
    }

    /// Approximate bytes on disk.
    #[must_use]
    pub fn size_on_disk(&self) -> u64 {
        self.sled().size_on_disk().unwrap_or(0)
    }
}

impl Drop for Store {
    /// Closes sled and waits (briefly) until its file lock is released: sled's own threads let
    /// go of it a moment after the handle, and a reopen right after a close must not find the
    /// store "in use".
    fn drop(&mut self) {
        drop(self.db.take());
        let Ok(file) = File::open(self.dir.join("db")) else {
            return;
        };
        let mut waited = std::time::Duration::ZERO;
        while waited < LOCK_PATIENCE * 4 {
            if file.try_lock().is_ok() {
                let _ = file.unlock();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            waited += std::time::Duration::from_millis(2);
        }
    }
}

/// Creates `dir` and its marker when missing or empty; refuses foreign or unknown directories.
fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let marker = dir.join(MARKER_FILE);
    match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            write_marker(dir, &marker)
        }
        Err(e) => Err(e.into()),
        Ok(mut entries) => {
            if entries.next().is_none() {
                return write_marker(dir, &marker);
            }
            let text = match fs::read_to_string(&marker) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::NotALedger(dir.to_owned()));
                }
                Err(e) => return Err(e.into()),
            };
            let found = text
                .lines()
                .find_map(|l| l.strip_prefix("format = "))
                .map(str::trim)
                .unwrap_or("missing");
            if found == FORMAT_VERSION.to_string() {
                Ok(())
            } else {
                Err(StoreError::UnknownFormat {
                    dir: dir.to_owned(),
                    found: found.to_owned(),
                })
            }
        }
    }
}

fn write_marker(dir: &Path, marker: &Path) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)?;
    writeln!(
        file,
        "# This directory is a coopledger ledger (sled 0.34.7). Do not edit.\nformat = {FORMAT_VERSION}"
    )?;
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(())
}
