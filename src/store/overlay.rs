//! A store layered over another, for writes nobody acknowledges: `import --check` appends a
//! whole file, batch after batch, to a ledger opened on an overlay of the real one, so that
//! every batch is judged as its import would be (after the batches before it, every rule
//! applied) while the real store is never written and memory stays bounded whatever the file's
//! length.
//!
//! Reads see the base as it was when the overlay was made (its head then, `base_head`) and,
//! above it, everything committed to the overlay. Commits go to a scratch sled store
//! ([`SledStore::scratch`]: never synced) in a new directory under the system's temporary
//! directory (`TMPDIR`), removed when the overlay is dropped. Records, ids and streams of the
//! overlay lie above `base_head`, so a lookup asks the scratch store first and the base for the
//! rest; view parts the overlay deleted (or all of them, after a `ClearAll`) hide the base's,
//! and that is the only state kept in memory (a set of view part names).
//!
//! The base is opened with [`Access::Read`](super::Access::Read) by the caller: nothing here
//! writes to it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use parking_lot::Mutex;
use proto_events::{Hash, Stream};
use uuid::Uuid;

use super::sled::SledStore;
use super::{
    Backend, Group, IndexRow, Records, Store, StoreError, SyncCounters, Value, ViewParts, ViewWrite,
};

/// See the module documentation.
pub struct Overlay {
    base: Store,
    base_head: u64,
    /// Always `Some` until the overlay is dropped (see `Drop`).
    scratch: Option<SledStore>,
    dir: PathBuf,
    views: Mutex<HiddenViews>,
}

/// Which of the base's view parts the overlay's commits removed.
#[derive(Default)]
struct HiddenViews {
    all: bool,
    parts: BTreeSet<Vec<u8>>,
}

impl HiddenViews {
    fn hides(&self, part: &[u8]) -> bool {
        self.all || self.parts.contains(part)
    }
}

impl Overlay {
    /// Layers a new scratch store over `base`.
    ///
    /// # Errors
    /// When the scratch directory cannot be made; when the base's head cannot be read.
    pub fn new(base: Store) -> Result<Overlay, StoreError> {
        let base_head = base.head()?.map_or(0, |(seq, _)| seq);
        let dir = std::env::temp_dir().join(format!(
            "coopledger-scratch-{}-{}",
            std::process::id(),
            Uuid::now_v7()
        ));
        let scratch = SledStore::scratch(&dir, base_head)?;
        Ok(Overlay {
            base,
            base_head,
            scratch: Some(scratch),
            dir,
            views: Mutex::new(HiddenViews::default()),
        })
    }

    fn scratch(&self) -> &SledStore {
        // Taken only by `Drop`, after which no method can run.
        self.scratch
            .as_ref()
            .unwrap_or_else(|| unreachable!("the overlay is open"))
    }
}

impl Backend for Overlay {
    fn location(&self) -> String {
        format!("{} (checked in a scratch copy)", self.base.location())
    }

    fn commit(&self, group: &Group<'_>) -> Result<Duration, StoreError> {
        if let Some(first) = group.records.first() {
            assert!(
                first.seq > self.base_head,
                "record {} committed over the base's head {}",
                first.seq,
                self.base_head
            );
        }
        let took = self.scratch().commit(group)?;
        let mut hidden = self.views.lock();
        for write in &group.views {
            match write {
                ViewWrite::ClearAll => {
                    *hidden = HiddenViews {
                        all: true,
                        parts: BTreeSet::new(),
                    }
                }
                ViewWrite::Put(..) => {}
                ViewWrite::Delete(part) => {
                    hidden.parts.insert(part.clone());
                }
            }
        }
        Ok(took)
    }

    fn head(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        match self.scratch().head()? {
            Some(head) => Ok(Some(head)),
            None => self.base.head(),
        }
    }

    fn records(&self, from: u64, to: u64) -> Records<'_> {
        let below =
            (from <= self.base_head).then(|| self.base.records(from, to.min(self.base_head)));
        let above =
            (to > self.base_head).then(|| self.scratch().records(from.max(self.base_head + 1), to));
        Box::new(
            below
                .into_iter()
                .flatten()
                .chain(above.into_iter().flatten()),
        )
    }

    fn record(&self, seq: u64) -> Result<Option<Value>, StoreError> {
        if seq <= self.base_head {
            self.base.record(seq)
        } else {
            self.scratch().record(seq)
        }
    }

    fn seqs_of(&self, ids: &[Uuid]) -> Result<Vec<Option<u64>>, StoreError> {
        let mut seqs = self.scratch().seqs_of(ids)?;
        let missing: Vec<Uuid> = ids
            .iter()
            .zip(&seqs)
            .filter(|(_, seq)| seq.is_none())
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            return Ok(seqs);
        }
        let mut found = self.base.seqs_of(&missing)?.into_iter();
        for seq in seqs.iter_mut().filter(|seq| seq.is_none()) {
            *seq = found.next().flatten();
        }
        Ok(seqs)
    }

    fn stream_seqs(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        // The overlay's versions of a stream all follow the base's.
        let mut seqs = self.base.stream_seqs(stream, from_version, limit)?;
        if seqs.len() < limit {
            let left = limit - seqs.len();
            seqs.extend(self.scratch().stream_seqs(stream, from_version, left)?);
        }
        Ok(seqs)
    }

    fn stream_version(&self, stream: &Stream) -> Result<u64, StoreError> {
        match self.scratch().stream_version(stream)? {
            0 => self.base.stream_version(stream),
            version => Ok(version),
        }
    }

    fn index_watermark(&self) -> Result<u64, StoreError> {
        let scratch = self.scratch().index_watermark()?;
        if scratch > self.base_head {
            Ok(scratch)
        } else {
            self.base.index_watermark()
        }
    }

    fn index_tail(&self, rows: &[IndexRow]) -> Result<(), StoreError> {
        let split = rows.partition_point(|row| row.seq <= self.base_head);
        self.base.index_tail(&rows[..split])?;
        self.scratch().index_tail(&rows[split..])
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        match self.scratch().tree_size()? {
            0 => self.base.tree_size(),
            size => Ok(size),
        }
    }

    fn tile(&self, level: u8, index: u64) -> Result<Option<Value>, StoreError> {
        match self.scratch().tile(level, index)? {
            Some(tile) => Ok(Some(tile)),
            None => self.base.tile(level, index),
        }
    }

    fn latest_checkpoint(&self, at_most: u64) -> Result<Option<(u64, Value)>, StoreError> {
        match self.scratch().latest_checkpoint(at_most)? {
            Some(checkpoint) => Ok(Some(checkpoint)),
            None => self.base.latest_checkpoint(at_most),
        }
    }

    fn view_part(&self, part: &[u8]) -> Result<Option<Value>, StoreError> {
        if let Some(value) = self.scratch().view_part(part)? {
            return Ok(Some(value));
        }
        if self.views.lock().hides(part) {
            return Ok(None);
        }
        self.base.view_part(part)
    }

    fn view_parts(&self, prefix: &[u8]) -> ViewParts<'_> {
        // Read whole (the views are loaded at open, and their parts are few): the scratch's
        // parts, then the base's that are neither replaced nor hidden, in order.
        let merged = || -> Result<Vec<(Vec<u8>, Value)>, StoreError> {
            let mut parts: std::collections::BTreeMap<Vec<u8>, Value> = self
                .scratch()
                .view_parts(prefix)
                .collect::<Result<_, _>>()?;
            let hidden = self.views.lock();
            for item in self.base.view_parts(prefix) {
                let (part, value) = item?;
                if !hidden.hides(&part) {
                    parts.entry(part).or_insert(value);
                }
            }
            Ok(parts.into_iter().collect())
        };
        match merged() {
            Ok(parts) => Box::new(parts.into_iter().map(Ok)),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn witness(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        // The scratch store keeps none; the base's names a record at or below `base_head`.
        self.base.witness()
    }

    fn maintain(&self) -> Result<bool, StoreError> {
        self.scratch().maintain()
    }

    fn counters(&self) -> &SyncCounters {
        self.scratch().counters()
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        drop(self.scratch.take());
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "scratch directory left behind");
        }
    }
}
