//! The sled backend: one ledger directory, the only code that touches sled.
//!
//! Durability: sled's `flush()` writes its log but on Linux only issues `sync_file_range`, which
//! survives a killed process but not a power cut. [`SledStore::commit`] therefore applies the
//! group as one sled batch (atomic: after a crash all of it or none of it is there), flushes,
//! fsyncs the blob files sled wrote (pages over 128 KiB, which sled never syncs) and `blobs/`,
//! and then `fdatasync`s the data file itself (and, when sled has written new snapshot files,
//! those and the directory). Only then does it write the witness file (see [`Backend::witness`]) and
//! return: a caller acknowledges nothing before `commit` returns.
//!
//! Records are packed into blocks (`blocks.rs`); a store written by format 1 (one key per record)
//! is read as it is, appended to with blocks, and packed by `coopledger migrate`
//! (`migrate.rs`). The index of event ids and streams is persisted (`index/`): opening costs the
//! same whatever the log's length.

mod blocks;
mod index;
pub mod keys;
pub mod migrate;
mod records;

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use proto_events::{Hash, Stream};
use uuid::Uuid;

use super::{
    Backend, Group, IndexCheck, IndexRow, Records, StoreError, SyncCounters, Value, ViewParts,
    ViewWrite,
};
use index::Index;

/// The ledger format this build writes (it reads format 1 too: see `docs/format.md`).
pub const FORMAT_VERSION: u32 = 2;
/// The sled page cache, in bytes, unless `COOPLEDGER_CACHE_MB` says otherwise.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Up to this many versions of a stream are read by point lookups (see `stream_seqs`).
const POINT_LOOKUPS: usize = 16;
/// The sled page cache of a scratch store (see [`SledStore::scratch`]).
pub const SCRATCH_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// The file that marks a directory as a coopledger store.
pub const MARKER_FILE: &str = "COOPLEDGER";
/// How long an opener waits for a lock that may be being released.
const LOCK_PATIENCE: Duration = Duration::from_millis(500);
const LOCK_RETRY: Duration = Duration::from_millis(20);
/// The file outside sled that remembers the last durable record (see [`Backend::witness`]).
pub const WITNESS_FILE: &str = "HEAD";
/// The witness's fixed size: `"coopledger-head 1 "`, 20 digits, a space, 64 hex digits, `\n`.
const WITNESS_LEN: usize = 18 + 20 + 1 + 64 + 1;

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

/// The sled batch of a group.
struct Batch {
    inner: sled::Batch,
    ops: usize,
}

impl Batch {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.ops += 1;
        self.inner.insert(key, value);
    }

    fn delete(&mut self, key: &[u8]) {
        self.ops += 1;
        self.inner.remove(key);
    }
}

/// The sled directory that holds sled's page blobs.
const BLOBS_DIR: &str = "blobs";

/// A directory whose new files each sync makes durable: the files already synced, and the
/// directory's modification time when last listed (unchanged: nothing new to sync).
struct SyncedDir {
    dir: PathBuf,
    files: BTreeSet<String>,
    listed_at: Option<std::time::SystemTime>,
}

impl SyncedDir {
    fn new(dir: &Path) -> Self {
        SyncedDir {
            dir: dir.to_owned(),
            files: BTreeSet::new(),
            listed_at: None,
        }
    }

    /// Fsyncs every file of the directory not synced yet (the data file `db` aside: it is
    /// synced by itself), then the directory when it has any; forgets files that are gone.
    fn sync_new_files(&mut self) -> Result<(), StoreError> {
        let modified = match fs::metadata(&self.dir) {
            Ok(meta) => meta.modified().ok(),
            // sled makes `blobs/` when it opens; a directory that is not there has nothing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // A directory's mtime is only as fine as the kernel's clock tick, so an unchanged mtime
        // proves nothing new only once it is old enough for any later change to show.
        let settled = modified
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(1));
        if settled && modified == self.listed_at {
            return Ok(());
        }
        self.listed_at = modified;
        let mut present = BTreeSet::new();
        let mut changed = false;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "db" || !entry.file_type()?.is_file() {
                continue;
            }
            if !self.files.contains(&name) {
                match File::open(entry.path()) {
                    Ok(file) => file.sync_all()?,
                    // Removed since it was listed (sled collects blobs it no longer needs).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
                changed = true;
            }
            present.insert(name);
        }
        self.files = present;
        if changed {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The sled store of one ledger directory.
pub struct SledStore {
    /// Always `Some` until the store is dropped (see `Drop`).
    db: Option<sled::Db>,
    dir: PathBuf,
    /// The data file, kept open to fdatasync it after each flush.
    data_file: File,
    /// The files of the directory (snapshots) and of `blobs/` already synced, so that new ones
    /// (and their directory) are synced once.
    synced: Mutex<[SyncedDir; 2]>,
    index: RwLock<Index>,
    /// Held through each merge of the index, so that an index check pins merges only between
    /// two (`index::MergePin`).
    merging: Mutex<()>,
    /// Index checks under way: merges wait while any is (they delete the runs it reads).
    merge_pins: AtomicUsize,
    /// Whether records stored one per key (format 1) may remain.
    singles: std::sync::atomic::AtomicBool,
    /// The format its marker says (1 until this build first writes records to it).
    marker: std::sync::atomic::AtomicU32,
    counters: SyncCounters,
    /// Bytes of frames per block ([`blocks::TARGET_BYTES`] unless `COOPLEDGER_BLOCK_BYTES`).
    block_bytes: usize,
    /// Whether commits are made durable (fdatasync, the witness): always, except for a scratch
    /// store that is thrown away (see [`SledStore::scratch`]).
    durable: bool,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens the store in `dir`, creating it when `dir` is missing or empty.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another handle holds it, [`StoreError::NotALedger`] for a
    /// non-empty foreign directory, [`StoreError::UnknownFormat`] for another format version.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        Self::open_inner(dir, true)
    }

    /// Opens the store in `dir`, which must already be a ledger.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when `dir` does not exist or is empty; otherwise as
    /// [`SledStore::open`].
    pub fn open_existing(dir: &Path) -> Result<SledStore, StoreError> {
        Self::open_inner(dir, false)
    }

    /// Creates a throwaway store in the missing or empty directory `dir`, for writes nobody
    /// acknowledges (an `import --check` layered over a ledger, `store::overlay`): commits are
    /// atomic but never synced and no witness is kept, so a crash may lose any of them; sled's
    /// cache is at most [`SCRATCH_CACHE_BYTES`]. Its records start after record `after`.
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn scratch(dir: &Path, after: u64) -> Result<SledStore, StoreError> {
        let cache = cache_bytes().min(SCRATCH_CACHE_BYTES);
        let store = Self::open_with(dir, true, cache, false)?;
        store.index.write().start_after(after);
        Ok(store)
    }

    fn open_inner(dir: &Path, create: bool) -> Result<SledStore, StoreError> {
        Self::open_with(dir, create, cache_bytes(), true)
    }

    fn open_with(
        dir: &Path,
        create: bool,
        cache: u64,
        durable: bool,
    ) -> Result<SledStore, StoreError> {
        let empty = fs::read_dir(dir).map(|mut d| d.next().is_none());
        if !create && !matches!(empty, Ok(false)) {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        let created = !matches!(empty, Ok(false));
        let marker = prepare_dir(dir)?;
        remove_unfinished_snapshots(dir)?;
        let db = Self::open_sled(dir, cache)?;
        let data_file = File::open(dir.join("db"))?;
        let index = Index::open(&db, index::Tuning::from_env())?;
        let singles = db.scan_prefix([keys::EVENT]).next().is_some();
        let store = SledStore {
            db: Some(db),
            dir: dir.to_owned(),
            data_file,
            synced: Mutex::new([SyncedDir::new(dir), SyncedDir::new(&dir.join(BLOBS_DIR))]),
            index: RwLock::new(index),
            merging: Mutex::new(()),
            merge_pins: AtomicUsize::new(0),
            singles: std::sync::atomic::AtomicBool::new(singles),
            marker: std::sync::atomic::AtomicU32::new(marker),
            counters: SyncCounters::default(),
            block_bytes: std::env::var("COOPLEDGER_BLOCK_BYTES")
                .ok()
                .and_then(|b| b.parse::<usize>().ok())
                .map_or(blocks::TARGET_BYTES, |b| {
                    b.clamp(1024, super::MAX_VALUE_LEN / 2)
                }),
            durable,
        };
        if created && durable {
            // A new store's files must be durable before anything is acknowledged in it; an
            // existing one was synced by whoever wrote it.
            store.sync()?;
        }
        Ok(store)
    }

    /// Opens sled, waiting a moment for a lock that this process has only just released: sled
    /// unlocks its file when its last internal thread lets go of it, shortly after the handle
    /// is dropped. A lock still held after that is another opener's.
    fn open_sled(dir: &Path, cache: u64) -> Result<sled::Db, StoreError> {
        let mut waited = Duration::ZERO;
        loop {
            let opened = sled::Config::new()
                .path(dir)
                // Durability is ours: every write is followed by a sync of our own, so the
                // background flusher would only add unsynchronised work.
                .flush_every_ms(None)
                .cache_capacity(cache)
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
                    let StoreError::Corrupt(what) = StoreError::from(e) else {
                        unreachable!("corruption maps to Corrupt")
                    };
                    return Err(StoreError::Corrupt(format!(
                        "the store in {} is damaged: {what}",
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

    fn batch_of(&self, group: &Group<'_>) -> Result<Batch, StoreError> {
        group.check()?;
        let mut batch = Batch {
            inner: sled::Batch::default(),
            ops: 0,
        };
        if let Some(first) = group.records.first() {
            let frames = group.records.iter().map(|r| r.frame);
            for (first, block) in blocks::pack(first.seq, frames, self.block_bytes) {
                batch.put(&keys::block(first), &block);
            }
        }
        for tile in &group.tiles {
            batch.put(&keys::tree(tile.level, tile.index), &tile.hashes);
        }
        if let Some(size) = group.tree_size {
            batch.put(keys::META_TREE, &size.to_be_bytes());
        }
        for write in &group.views {
            match write {
                ViewWrite::ClearAll => {
                    for item in self.sled().scan_prefix([keys::VIEW]) {
                        let (key, _) = item?;
                        batch.delete(&key);
                    }
                }
                ViewWrite::Put(part, value) => batch.put(&keys::view(part), value),
                ViewWrite::Delete(part) => batch.delete(&keys::view(part)),
            }
        }
        if let Some((seq, hash)) = &group.head {
            batch.put(keys::META_HEAD, &keys::head_value(*seq, hash));
        }
        if let Some((size, note)) = &group.checkpoint {
            batch.put(&keys::checkpoint(*size), note.as_bytes());
        }
        Ok(batch)
    }

    /// Makes everything applied so far durable: sled's flush, then fsync of any blob file sled
    /// wrote since the last sync (and of `blobs/`), then fdatasync of the data file, then fsync
    /// of any snapshot file sled created since the last sync (and of the directory).
    ///
    /// sled writes a page larger than a quarter of its 512 KiB log segments (a leaf holding
    /// several large values) to a file of its own in `blobs/`, and never syncs it; the data file
    /// then points to that file. Blocks, index chunks and tiles are kept at 8 KiB at most, so a
    /// leaf of them rarely gets that large; large events can.
    /// A scratch store only flushes sled's buffers (bounding its memory), without a sync.
    fn sync(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        crate::failpoint!("store::sync", StoreError::Io);
        self.sled().flush()?;
        if !self.durable {
            return Ok(Duration::ZERO);
        }
        // Blobs first: the data file points to them.
        let mut synced = self.synced.lock();
        synced[1].sync_new_files()?;
        self.data_file.sync_data()?;
        synced[0].sync_new_files()?;
        drop(synced);
        let took = started.elapsed();
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        self.counters.sync_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(took)
    }

    /// Records, outside sled, the last record made durable (see [`Backend::witness`]). Written
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

    /// Flushes the oldest records of the index's memtable as a run when it is due, and merges
    /// runs when a tier is full; each step is its own atomic, durable batch (a crash in between
    /// leaves either the memtable, which the next open rebuilds from the log, or an unlisted run,
    /// which it deletes). Returns whether another flush is due.
    fn maintain_index(&self) -> Result<bool, StoreError> {
        if !self.index.read().flush_due() {
            return Ok(false);
        }
        let (writes, run) = self.index.read().flush()?;
        self.apply_writes(writes)?;
        self.sync()?;
        self.index.write().flushed(run);
        loop {
            let _merging = self.merging.lock();
            let due = if index::MergePin::held(&self.merge_pins) {
                None
            } else {
                self.index.read().merge_due()
            };
            let Some(ids) = due else {
                return Ok(self.index.read().flush_due());
            };
            let (writes, run) = {
                let index = self.index.read();
                index.merge(self.sled(), &ids, &mut |part| self.apply_writes(part))?
            };
            // The new run is written; the manifest switches to it, and the old runs go, at once,
            // in sled and in memory: a reader holding the index never finds a listed run's
            // keys deleted.
            self.sync()?;
            {
                let mut index = self.index.write();
                self.apply_writes(writes)?;
                index.merged(&ids, run);
            }
            self.sync()?;
        }
    }

    fn apply_writes(&self, writes: index::Writes) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            match value {
                Some(value) => {
                    if value.len() > super::MAX_VALUE_LEN {
                        return Err(StoreError::ValueTooLarge { len: value.len() });
                    }
                    batch.insert(key, value);
                }
                None => batch.remove(key),
            }
        }
        crate::failpoint!("store::index", StoreError::Io);
        self.sled().apply_batch(batch)?;
        Ok(())
    }

    /// Approximate bytes on disk.
    #[must_use]
    pub fn size_on_disk(&self) -> u64 {
        self.sled().size_on_disk().unwrap_or(0)
    }
}

impl Backend for SledStore {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn commit(&self, group: &Group<'_>) -> Result<Duration, StoreError> {
        let batch = self.batch_of(group)?;
        if !group.records.is_empty() && self.marker.load(Ordering::Relaxed) < FORMAT_VERSION {
            // Records in blocks: a build of format 1 must no longer open this store.
            write_marker(&self.dir, FORMAT_VERSION)?;
            self.marker.store(FORMAT_VERSION, Ordering::Relaxed);
        }
        if batch.ops > 0 {
            crate::failpoint!("store::apply", StoreError::Io);
            self.sled().apply_batch(batch.inner)?;
        }
        let took = self.sync()?;
        if let Some((seq, hash)) = &group.head
            && self.durable
        {
            self.write_witness(*seq, hash)?;
        }
        if !group.records.is_empty() {
            {
                let mut index = self.index.write();
                for row in &group.records {
                    index.insert(row.seq, row.event_id, row.stream, row.stream_version);
                }
            }
            self.maintain_index()?;
        }
        Ok(took)
    }

    fn maintain(&self) -> Result<bool, StoreError> {
        self.maintain_index()
    }

    fn migrate_layout(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, StoreError> {
        let packed = self.pack_singles(progress)?;
        if self.marker.load(Ordering::Relaxed) < FORMAT_VERSION {
            write_marker(&self.dir, FORMAT_VERSION)?;
            self.marker.store(FORMAT_VERSION, Ordering::Relaxed);
        }
        Ok(packed)
    }

    fn head(&self) -> Result<Option<(u64, Hash)>, StoreError> {
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

    fn records(&self, from: u64, to: u64) -> Records<'_> {
        let db = self.sled();
        let packed = records::packed(db, from, to);
        if self.singles.load(Ordering::Relaxed) {
            Box::new(records::Merged::new(records::singles(db, from, to), packed))
        } else {
            packed
        }
    }

    fn record(&self, seq: u64) -> Result<Option<Value>, StoreError> {
        records::one(self.sled(), seq, self.singles.load(Ordering::Relaxed))
    }

    fn seqs_of(&self, ids: &[Uuid]) -> Result<Vec<Option<u64>>, StoreError> {
        let index = self.index.read();
        ids.iter().map(|id| index.seq_of(self.sled(), id)).collect()
    }

    fn stream_seqs(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let from_version = from_version.max(1);
        if limit <= POINT_LOOKUPS {
            // A few versions: looked up one by one, not by reading the whole stream.
            let index = self.index.read();
            let mut seqs = Vec::with_capacity(limit);
            for version in (from_version..).take(limit) {
                match index.stream_seq(self.sled(), stream, version)? {
                    Some(seq) => seqs.push(seq),
                    None => break,
                }
            }
            return Ok(seqs);
        }
        Ok(self
            .index
            .read()
            .stream(self.sled(), stream)?
            .into_iter()
            .filter(|(version, _)| *version >= from_version)
            .take(limit)
            .map(|(_, seq)| seq)
            .collect())
    }

    fn stream_version(&self, stream: &Stream) -> Result<u64, StoreError> {
        self.index.read().stream_version(self.sled(), stream)
    }

    fn index_watermark(&self) -> Result<u64, StoreError> {
        Ok(self.index.read().watermark())
    }

    fn index_check(&self) -> Result<Box<dyn IndexCheck + '_>, StoreError> {
        let pin = {
            let _merging = self.merging.lock();
            index::MergePin::new(&self.merge_pins)
        };
        let key = index::DigestKey::random();
        // Read without holding the index, so that appends go on: the pin keeps the runs.
        let snapshot = self.index.read().snapshot();
        crate::failpoint!("store::index_check", StoreError::Io);
        let runs = snapshot.summarise(self.sled(), key);
        Ok(Box::new(index::Checker::new(
            self,
            pin,
            key,
            snapshot.watermark(),
            runs,
        )))
    }

    fn index_tail(&self, rows: &[IndexRow]) -> Result<(), StoreError> {
        let mut index = self.index.write();
        for row in rows {
            index.insert(row.seq, row.event_id, &row.stream, row.stream_version);
        }
        Ok(())
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
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

    fn tile(&self, level: u8, index: u64) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(keys::tree(level, index))?.map(Value::sled))
    }

    fn latest_checkpoint(&self, at_most: u64) -> Result<Option<(u64, Value)>, StoreError> {
        self.sled()
            .range(keys::checkpoint(0)..=keys::checkpoint(at_most))
            .next_back()
            .map(|item| {
                let (key, value) = item?;
                let size = keys::checkpoint_size(&key).ok_or_else(|| {
                    StoreError::Corrupt(format!("a checkpoint key of {} bytes", key.len()))
                })?;
                Ok((size, Value::sled(value)))
            })
            .transpose()
    }

    fn view_part(&self, part: &[u8]) -> Result<Option<Value>, StoreError> {
        Ok(self.sled().get(keys::view(part))?.map(Value::sled))
    }

    fn view_parts(&self, prefix: &[u8]) -> ViewParts<'_> {
        Box::new(self.sled().scan_prefix(keys::view(prefix)).map(|item| {
            let (key, value) = item?;
            Ok((keys::view_part(&key).to_vec(), Value::sled(value)))
        }))
    }

    fn witness(&self) -> Result<Option<(u64, Hash)>, StoreError> {
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

    fn counters(&self) -> &SyncCounters {
        &self.counters
    }
}

impl Drop for SledStore {
    /// Closes sled and waits (briefly) until its file lock is released: sled's own threads let
    /// go of it a moment after the handle, and a reopen right after a close must not find the
    /// store "in use".
    fn drop(&mut self) {
        drop(self.db.take());
        let Ok(file) = File::open(self.dir.join("db")) else {
            return;
        };
        let mut waited = Duration::ZERO;
        while waited < LOCK_PATIENCE * 4 {
            if file.try_lock().is_ok() {
                let _ = file.unlock();
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
            waited += Duration::from_millis(2);
        }
    }
}

/// sled's page cache: [`DEFAULT_CACHE_BYTES`], or `COOPLEDGER_CACHE_MB` MiB.
fn cache_bytes() -> u64 {
    std::env::var("COOPLEDGER_CACHE_MB")
        .ok()
        .and_then(|mb| mb.parse::<u64>().ok())
        .map_or(DEFAULT_CACHE_BYTES, |mb| mb.max(1) * 1024 * 1024)
}

/// Removes the snapshots sled left half-written. sled writes `snap.N.generating`, syncs it and
/// renames it `snap.N`; but at open it takes the last `snap.*` file by name, whatever its
/// suffix, so one left by a kill during that write makes the store refuse to open ("empty/
/// corrupt snapshot file found"; sled issue #1527) though nothing is lost: the complete
/// snapshot before it and the log after it are intact. Done under sled's own lock (an flock of
/// `db`), so no running sled is writing one; when another holds it, opening will say so.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let Ok(data) = File::open(dir.join("db")) else {
        // A new store: no snapshot yet.
        return Ok(());
    };
    match data.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(()),
        Err(fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            fs::remove_file(dir.join(&*name))?;
            tracing::warn!(file = %name, "removed a snapshot that sled left half-written");
        }
    }
    // Released at once, for every copy of the descriptor a concurrent fork may hold.
    data.unlock()?;
    Ok(())
}

/// Creates `dir` and its marker when missing or empty; refuses foreign or unknown directories.
/// Returns the format the marker says.
fn prepare_dir(dir: &Path) -> Result<u32, StoreError> {
    let marker = dir.join(MARKER_FILE);
    match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            write_marker(dir, FORMAT_VERSION)?;
            Ok(FORMAT_VERSION)
        }
        Err(e) => Err(e.into()),
        Ok(mut entries) => {
            if entries.next().is_none() {
                write_marker(dir, FORMAT_VERSION)?;
                return Ok(FORMAT_VERSION);
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
            match found.parse::<u32>() {
                Ok(version @ 1..=FORMAT_VERSION) => Ok(version),
                _ => Err(StoreError::UnknownFormat {
                    location: dir.display().to_string(),
                    found: found.to_owned(),
                }),
            }
        }
    }
}

/// Writes the marker saying `version`, atomically: a new file, synced, renamed over the old one,
/// then the directory synced.
fn write_marker(dir: &Path, version: u32) -> Result<(), StoreError> {
    let temp = dir.join(format!("{MARKER_FILE}.new"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)?;
    writeln!(
        file,
        "# This directory is a coopledger ledger (sled 0.34.7). Do not edit.\nformat = {version}"
    )?;
    file.sync_all()?;
    fs::rename(&temp, dir.join(MARKER_FILE))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}
