//! Folding the log into fresh views (rebuilds and views "as of"): records are read by the walk
//! (scanned, hashed, decoded) on one thread while this one folds the previous page, so the two
//! halves of a fold overlap. The timeline of [`crate::views::timeline`] is folded by the same
//! pages; a verification can fold both, from the records it reads ([`verify_and_fold`]).

use std::time::Instant;

use proto_events::{Date, RecordedEvent};

use super::Progress;
use super::VerifyReport;
use super::reader::{MAX_PAGE, Reader};
use crate::error::Error;
use crate::views::fold::Folder;
use crate::views::state::ViewState;
use crate::views::timeline::TimelineFolder;

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
    let mut folder = Folder::new(on_or_before);
    let mut load =
        |stream: &proto_events::Stream, before: u64| reader.stream_facts_before(stream, before);
    each_record(
        reader,
        1,
        upto,
        &mut |e| folder.apply(e, &mut load),
        progress,
    )?;
    folder.finish()
}

/// Folds records after `state.as_of` up to `upto` into `state` (views as of a later point),
/// counting only facts dated on or before `on_or_before` when given (as `state` was folded),
/// checking every record's hash.
///
/// # Errors
/// As [`fold`].
pub fn fold_on(
    reader: &Reader,
    state: ViewState,
    upto: u64,
    on_or_before: Option<Date>,
) -> Result<ViewState, Error> {
    let from = state.as_of + 1;
    let mut folder = Folder::resume(state, on_or_before);
    let mut load =
        |stream: &proto_events::Stream, before: u64| reader.stream_facts_before(stream, before);
    each_record(
        reader,
        from,
        upto,
        &mut |e| folder.apply(e, &mut load),
        &mut |_| {},
    )?;
    folder.finish()
}

/// Verifies the chain to the head (as [`Reader::verify`]) and folds records `1..=upto` into
/// fresh views and a fresh timeline, one decision per record for both, counting only facts
/// dated on or before `on` when given, from the same reads, on a second thread: what is
/// folded is what was verified, read, hashed and decoded once.
///
/// # Errors
/// The verification's errors, then the fold's (a fold cut short by a failed verification
/// fails too, and the verification's error names the cause).
pub fn verify_and_fold(
    reader: &Reader,
    upto: u64,
    on: Option<Date>,
) -> (
    Result<VerifyReport, Error>,
    Result<(ViewState, TimelineFolder), Error>,
) {
    std::thread::scope(|scope| {
        let (pages, incoming) = std::sync::mpsc::sync_channel::<Vec<RecordedEvent>>(2);
        let folding = scope.spawn(move || {
            let mut folder = Folder::new(on);
            let mut timeline = TimelineFolder::new(on);
            let mut load = |stream: &proto_events::Stream, before: u64| {
                reader.stream_facts_before(stream, before)
            };
            let mut done = 0u64;
            for page in incoming {
                for event in page.iter().take_while(|e| e.sequence <= upto) {
                    folder.apply_with_timeline(event, &mut load, &mut timeline)?;
                    done += 1;
                }
            }
            if done != upto {
                return Err(Error::Internal(format!(
                    "a fold of 1..={upto} was given only {done} verified records"
                )));
            }
            timeline.check()?;
            Ok((folder.finish()?, timeline))
        });
        let mut hand_on = |page: Vec<RecordedEvent>| {
            if page.first().is_some_and(|e| e.sequence <= upto) {
                // A fold that failed stops listening; the verification goes on.
                let _ = pages.send(page);
            }
            Ok(())
        };
        let verified = reader.verify_feeding(&mut |_, _| {}, Some(&mut hand_on));
        drop(pages);
        let folded = folding
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (verified, folded)
    })
}

/// Folds records after the folder's sequence up to `upto` into a timeline folder (the same
/// pages, the same decision as [`fold`]), checking every record's hash.
///
/// # Errors
/// On a storage error, a record that fails its checks, a negative counter.
pub fn timeline(reader: &Reader, folder: &mut TimelineFolder, upto: u64) -> Result<(), Error> {
    let mut load =
        |stream: &proto_events::Stream, before: u64| reader.stream_facts_before(stream, before);
    let from = folder.as_of() + 1;
    each_record(
        reader,
        from,
        upto,
        &mut |e| folder.apply(e, &mut load),
        &mut |_| {},
    )?;
    folder.check()
}

/// Hands records `from..=upto` to `each` in order, read page by page on a second thread.
fn each_record(
    reader: &Reader,
    from: u64,
    upto: u64,
    each: &mut dyn FnMut(&RecordedEvent) -> Result<(), Error>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), Error> {
    let started = Instant::now();
    let total = (upto + 1).saturating_sub(from);
    std::thread::scope(|scope| {
        let (pages, incoming) =
            std::sync::mpsc::sync_channel::<Result<Vec<RecordedEvent>, Error>>(2);
        scope.spawn(move || {
            let mut next = from;
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
                each(event)?;
            }
            done += page.len() as u64;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = done as f64 / secs;
            progress(Progress {
                done,
                total,
                rate,
                eta_secs: (total.saturating_sub(done)) as f64 / rate.max(1e-9),
            });
        }
        if done != total {
            return Err(Error::Internal(format!(
                "a fold of {from}..={upto} read only {done} records"
            )));
        }
        Ok::<(), Error>(())
    })
}
