//! Following a log that another process writes (a read-only API node on a replicated
//! PostgreSQL ledger): the records after the local head are read, checked (every hash, and the
//! link to the last record this node had), folded into the views with the same decision as the
//! writer's, and published; subscribers hear them as they would from the writer.
//!
//! A follower writes nothing. Its views are its own fold of what it read, starting from the
//! stored views it opened with, so they cannot disagree with the records it serves.

use std::sync::Arc;
use std::time::Duration;

use proto_events::RecordedEvent;

use super::catalog::Head;
use super::walk::{self, Check, End};
use super::{CommitListener, MAX_PAGE, Reader, Shared};
use crate::entity::is_cached;
use crate::error::Error;
use crate::views::change;
use crate::views::state::Tracker;

/// See [`super::Ledger::wait_for_records`].
pub(super) fn wait(shared: &Shared, timeout: Duration) -> Result<bool, Error> {
    let local = shared.catalog.read().head().seq;
    let stored = shared.store.wait_for_head(local, timeout)?;
    Ok(stored.is_some_and(|(seq, _)| seq > local))
}

/// See [`super::Ledger::catch_up`].
pub(super) fn catch_up(
    shared: &Arc<Shared>,
    listener: &mut Option<CommitListener>,
) -> Result<u64, Error> {
    let reader = Reader {
        shared: Arc::clone(shared),
    };
    let local = reader.head();
    let Some((stored, _)) = shared.store.head()? else {
        return Ok(local.seq);
    };
    if stored < local.seq {
        return Err(Error::Corrupt {
            seq: stored + 1,
            reason: format!(
                "the store's head went back from {} to {stored}: records this node served are gone",
                local.seq
            ),
        });
    }
    if stored == local.seq {
        return Ok(local.seq);
    }
    let to = stored.min(local.seq + MAX_PAGE as u64);
    let mut events: Vec<RecordedEvent> = Vec::new();
    walk::walk(
        &*shared.store,
        local.seq + 1,
        Some(local.hash),
        End::Seq(to),
        Check::Hashes,
        walk::CHUNK,
        |chunk| {
            events.extend(chunk.par_map(|raw, frame| frame.decode(raw.seq))?);
            Ok(())
        },
    )?;
    let mut views = reader.views().as_ref().clone();
    let mut tracker = Tracker::default();
    for event in &events {
        let stream = &event.envelope.stream;
        let before = if !change::needs_history(event) {
            Vec::new()
        } else if let Some(cached) = shared.catalog.read().facts(stream) {
            cached.clone()
        } else {
            reader.stream_facts_before(stream, event.sequence)?
        };
        let (view_change, after) = change::decide(event, &before, None);
        views.apply(&view_change, &mut tracker);
        views.as_of = event.sequence;
        if let Some(after) = after.filter(|_| is_cached(stream)) {
            shared.catalog.write().cache(stream.clone(), after);
        }
    }
    if let Some(bad) = views.negative_counter() {
        return Err(Error::Internal(format!("following left {bad}")));
    }
    let Some(last) = events.last() else {
        return Ok(local.seq);
    };
    let head = Head {
        seq: last.sequence,
        hash: last.hash,
        recorded_at: last.envelope.recorded_at,
    };
    {
        let mut catalog = shared.catalog.write();
        catalog.advance(head);
        *shared.views.write() = Arc::new(views);
    }
    if let Some(listener) = listener {
        listener(Arc::new(events));
    }
    Ok(head.seq)
}
