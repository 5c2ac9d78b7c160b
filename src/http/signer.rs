//! Checkpoints signed by the server: on a schedule (`serve --key FILE --checkpoint-every
//! SECONDS`) and on a staff request (`POST /v1/checkpoint`), each time only when the head has
//! moved past the latest published checkpoint. Reads never sign: `GET /v1/checkpoint` serves
//! the latest as stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::blocking;
use super::error::ApiError;
use crate::audit::checkpoint::Key;
use crate::handle::LedgerHandle;

/// What a signing request gave.
pub enum Signed {
    /// A checkpoint of the head, signed now.
    Fresh(String),
    /// The latest checkpoint, which already covers the head.
    Latest(String),
}

/// Signs a checkpoint of the head with `key` unless the latest one already covers it.
///
/// # Errors
/// As [`LedgerHandle::sign_checkpoint`], and storage errors reading the latest checkpoint.
pub async fn sign_if_moved(ledger: &LedgerHandle, key: &Arc<Key>) -> Result<Signed, ApiError> {
    let reader = ledger.reader().clone();
    let head = reader.head().seq;
    let latest = blocking(move || reader.latest_checkpoint()).await?;
    match latest {
        Some((size, note)) if size >= head => Ok(Signed::Latest(note)),
        _ => Ok(Signed::Fresh(
            ledger
                .sign_checkpoint(Arc::clone(key))
                .await
                .map_err(ApiError::from)?,
        )),
    }
}

/// Signs every `every` while the head moves, until `shutdown`. A failure is logged and tried
/// again at the next tick (a poisoned ledger keeps failing, and says so each time).
pub async fn every(
    ledger: LedgerHandle,
    key: Arc<Key>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match sign_if_moved(&ledger, &key).await {
            Ok(Signed::Fresh(_)) => {}
            Ok(Signed::Latest(_)) => tracing::debug!("checkpoint schedule: the head has not moved"),
            Err(e) => tracing::warn!(kind = e.kind, "scheduled checkpoint failed: {}", e.message),
        }
    }
}
