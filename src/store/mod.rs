//! The storage boundary: the only module that touches sled.
//!
//! It offers what a log needs and nothing more: apply one atomic batch of puts and deletes, make
//! everything applied durable, and read keys and ranges. Nothing above it sees a sled type, so
//! another backend (a replicated one, for users who outgrow one machine) can sit beside it.
//!
//! Durability: sled's `flush()` writes its log but on Linux only issues `sync_file_range`, which
//! survives a killed process but not a power cut. [`Store::sync`] therefore flushes and then
//! `fdatasync`s the data file itself (and, when sled has written new snapshot files, those and the
//! directory).

pub mod keys;

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

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
            sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
            other => StoreError::Io(other.to_string()),
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

/// Puts and deletes applied all together or not at all.
#[derive(Default, Debug)]
pub struct Batch {
    inner: sled::Batch,
    len: usize,
    bytes: usize,
}

impl Batch {
    /// Adds a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.len += 1;
        self.bytes += key.len() + value.len();
        self.inner.insert(key, value);
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.len += 1;
        self.inner.remove(key.as_ref());
    }

    /// Number of operations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to apply.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of keys and values put.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
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

    /// Applies `batch` atomically (visible at once, durable only after [`Store::sync`]).
    ///
    /// # Errors
    /// On an I/O error, after which the caller must stop writing (fail-stop).
    pub fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        crate::failpoint!("store::apply", |msg| StoreError::Io(msg));
        self.sled().apply_batch(batch.inner)?;
        Ok(())
    }

    /// Makes everything applied so far durable: sled's flush, then fdatasync of the data file,
    /// then fsync of any snapshot file sled created since the last sync and of the directory.
    ///
    /// # Errors
    /// On an I/O error, after which the caller must stop writing (fail-stop).
    pub fn sync(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        crate::failpoint!("store::sync", |msg| StoreError::Io(msg));
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

    /// Reads one key.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(key)?.map(Value))
    }

    /// Iterates keys in `[start, end)` in order (reverse it with `.rev()`).
    pub fn range(
        &self,
        start: &[u8],
        end: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<(Value, Value), StoreError>> + use<> {
        self.sled().range(start.to_vec()..end.to_vec()).map(|r| {
            r.map(|(k, v)| (Value(k), Value(v)))
                .map_err(StoreError::from)
        })
    }

    /// Iterates every key starting with `prefix`.
    pub fn prefix(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<(Value, Value), StoreError>> + use<> {
        self.sled().scan_prefix(prefix).map(|r| {
            r.map(|(k, v)| (Value(k), Value(v)))
                .map_err(StoreError::from)
        })
    }

    /// Records, outside sled, the last record made durable: sled recovers from a damaged data
    /// file by silently dropping everything after the damage, so the ledger needs its own memory
    /// of how far the log went to tell a lost tail from a short log.
    ///
    /// Written after the sync of the records it names, in place and in one sector, without an
    /// fsync of its own: a crash can only leave it behind the log, never ahead, and behind is
    /// harmless.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn write_witness(&self, seq: u64, hash: &[u8; 32]) -> Result<(), StoreError> {
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

    /// The last durable record the witness names, if the file exists.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the file is malformed.
    pub fn read_witness(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
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
