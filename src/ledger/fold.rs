//! Folding the log into fresh views (rebuilds and views "as of"): records are read by the walk
//! (scanned, hashed, decoded) on one thread while this one folds the previous page, so the two
//! halves of a fold overlap.

use std::time::Instant;

use proto_events::{Date, RecordedEvent};

use super::Progress;
use super::reader::{MAX_PAGE, Reader};
use crate::error::Error;
use crate::views::fold::Folder;
use crate::views::state::ViewState;

/// Folds records `1..=upto` into fresh views, counting only facts dated on or before
/// `on_or_before` when given, checking every record's hash.
///
/// # Errors
/// On a storage error or a record that fails its checks.
pub fn fold(
    reader: &Reader,
    upto: u64,
    on_or_before: Option<Date>,
    progress: &mut dyn FnMut(Progress),
) -> Result<ViewState, Error> {
    let started = Instant::now();
    let mut folder = Folder::new(on_or_before);
    let mut load =
        |stream: &proto_events::Stream, before: u64| reader.stream_facts_before(stream, before);
    std::thread::scope(|scope| {
        let (pages, incoming) =
            std::sync::mpsc::sync_channel::<Result<Vec<RecordedEvent>, Error>>(2);
        scope.spawn(move || {
            let mut next = 1u64;
            while next <= upto {
                let limit =
                    usize::try_from((upto - next + 1).min(MAX_PAGE as u64)).unwrap_or(MAX_PAGE);
                let page = reader.read_forward(next, limit);
                let stop = page.as_ref().map_or(true, Vec::is_empty);
                if let Ok(p) = &page {
                    next += p.len() as u64;
                }
                if pages.send(page).is_err() || stop {
                    break;
                }
            }
        });
        let mut done = 0u64;
        for page in incoming {
            let page = page?;
            if page.is_empty() {
                break;
            }
            for event in &page {
                folder.apply(event, &mut load)?;
            }
            done += page.len() as u64;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = done as f64 / secs;
            progress(Progress {
                done,
                total: upto,
                rate,
                eta_secs: (upto.saturating_sub(done)) as f64 / rate.max(1e-9),
            });
        }
        if done != upto {
            return Err(Error::Internal(format!(
                "a fold to {upto} read only {done} records"
            )));
        }
        Ok::<(), Error>(())
    })?;
    folder.finish()
}
