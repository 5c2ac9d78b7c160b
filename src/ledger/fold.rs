//! Folding the log into fresh views (rebuilds and views "as of"): records are read by the walk
//! (scanned, hashed, decoded) on one thread while this one folds the previous page, so the two
//! halves of a fold overlap; a third reads ahead, from the log, the earlier facts of the
//! streams the next page amends that the fold does not keep ([`fold_pages`]). The timeline of
//! [`crate::views::timeline`] is folded by the same pages; a verification can fold both, from
//! the records it reads ([`verify_and_fold`]).

use std::time::Instant;

use proto_events::{Date, RecordedEvent, Stream};

use super::Progress;
use super::VerifyReport;
use super::reader::{MAX_PAGE, Reader};
use crate::entity::StreamFacts;
use crate::error::Error;
use crate::views::fold::{Folder, Loader};
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
    each_record(reader, 1, upto, &mut folder, progress)?;
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
    each_record(reader, from, upto, &mut folder, &mut |_| {})?;
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
            let mut both = (Folder::new(on), TimelineFolder::new(on));
            let done = fold_pages(
                reader,
                incoming.into_iter().map(Ok),
                upto,
                &mut both,
                &mut |_| {},
            )?;
            if done != upto {
                return Err(Error::Internal(format!(
                    "a fold of 1..={upto} was given only {done} verified records"
                )));
            }
            let (folder, timeline) = both;
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
    let from = folder.as_of() + 1;
    each_record(reader, from, upto, folder, &mut |_| {})?;
    folder.check()
}

/// What a fold feeds records to, in log order: the views, the timeline, or both at once.
trait Fold {
    /// Whether applying `event` now would ask the loader for its stream's facts.
    fn would_load(&self, event: &RecordedEvent) -> bool;
    fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error>;
}

impl Fold for Folder {
    fn would_load(&self, event: &RecordedEvent) -> bool {
        Folder::would_load(self, event)
    }
    fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error> {
        Folder::apply(self, event, load)
    }
}

impl Fold for TimelineFolder {
    fn would_load(&self, event: &RecordedEvent) -> bool {
        TimelineFolder::would_load(self, event)
    }
    fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error> {
        TimelineFolder::apply(self, event, load)
    }
}

/// The views and the timeline, one decision per record ([`Folder::apply_with_timeline`]).
impl Fold for (Folder, TimelineFolder) {
    fn would_load(&self, event: &RecordedEvent) -> bool {
        self.0.would_load(event)
    }
    fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error> {
        self.0.apply_with_timeline(event, load, &mut self.1)
    }
}

/// Hands records `from..=upto` to `fold` in order, read page by page on a second thread.
fn each_record(
    reader: &Reader,
    from: u64,
    upto: u64,
    fold: &mut dyn Fold,
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
        let pages = incoming
            .into_iter()
            .take_while(|page| page.as_ref().map_or(true, |p| !p.is_empty()));
        let mut on_page = |done: u64| {
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = done as f64 / secs;
            progress(Progress {
                done,
                total,
                rate,
                eta_secs: (total.saturating_sub(done)) as f64 / rate.max(1e-9),
            });
        };
        let done = fold_pages(reader, pages, upto, fold, &mut on_page)?;
        if done != total {
            return Err(Error::Internal(format!(
                "a fold of {from}..={upto} read only {done} records"
            )));
        }
        Ok::<(), Error>(())
    })
}

/// Folds the records up to `upto` of `pages` into `fold`, in order, and returns how many.
/// While one page is folded, the next one's read-backs (the facts of the streams it corrects,
/// retracts or continues that the fold does not keep, as it stands) are read from the log on
/// another thread: the fold's own thread is a fold's longest, and most of its time was these
/// reads. A record whose facts were not read ahead (its stream was evicted meanwhile, or the
/// read failed) has them read by the fold itself, which fails there, in order.
fn fold_pages(
    reader: &Reader,
    pages: impl Iterator<Item = Result<Vec<RecordedEvent>, Error>>,
    upto: u64,
    fold: &mut dyn Fold,
    on_page: &mut dyn FnMut(u64),
) -> Result<u64, Error> {
    let mut done = 0u64;
    let mut fold_page = |fold: &mut dyn Fold, page: &[RecordedEvent], mut read: ReadAhead| {
        let mut load = |stream: &Stream, before: u64| match read.remove(&before) {
            Some(facts) => Ok(facts),
            None => reader.stream_facts_before(stream, before),
        };
        for event in page.iter().take_while(|e| e.sequence <= upto) {
            fold.apply(event, &mut load)?;
            done += 1;
        }
        on_page(done);
        Ok::<(), Error>(())
    };
    std::thread::scope(|ahead| {
        let mut held = None;
        for page in pages {
            let page = page?;
            let wanted: Vec<(Stream, u64)> = page
                .iter()
                .take_while(|e| e.sequence <= upto)
                .filter(|e| fold.would_load(e))
                .map(|e| (e.envelope.stream.clone(), e.sequence))
                .collect();
            let reading = ahead.spawn(move || read_ahead(reader, &wanted));
            if let Some((page, reading)) = held.replace((page, reading)) {
                fold_page(&mut *fold, &page, joined(reading))?;
            }
        }
        match held {
            Some((page, reading)) => fold_page(fold, &page, joined(reading)),
            None => Ok(()),
        }
    })?;
    Ok(done)
}

/// Facts of streams read back from the log ahead of a fold, by the sequence of the record
/// that needs them (the facts of its stream before it).
type ReadAhead = foldhash::HashMap<u64, StreamFacts>;

/// Reads the facts of each `(stream, sequence)`'s stream before it. A read that fails is left
/// out: the fold reads it again itself.
fn read_ahead(reader: &Reader, wanted: &[(Stream, u64)]) -> ReadAhead {
    wanted
        .iter()
        .filter_map(|(stream, seq)| {
            let facts = reader.stream_facts_before(stream, *seq).ok()?;
            Some((*seq, facts))
        })
        .collect()
}

fn joined(reading: std::thread::ScopedJoinHandle<'_, ReadAhead>) -> ReadAhead {
    reading
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
