//! The system under test (a real ledger in a temporary directory, used through `Ledger` or a
//! `LedgerHandle`) and the log as acknowledged; running the submissions.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use coopledger::proto_events::hash::to_hex;
use coopledger::proto_events::{Hash, NewEvent, Stream, Timestamp};
use coopledger::{Error, Ledger, LedgerHandle, Reader, Receipt};
use uuid::Uuid;

use super::checks::{Check, check_refusal};
use super::model::{BatchExpect, EvExpect, SubExpect};
use super::stats::{stat, stat_outcome};
use super::transitions::Sub;
use super::views::ViewsJson;
use crate::backends::{Fixture, Kind};

/// An acknowledged record, as the receipts and the first read of it said.
#[derive(Debug, Clone)]
pub(super) struct ARec {
    pub(super) seq: u64,
    pub(super) id: Uuid,
    pub(super) stream: Stream,
    pub(super) version: u64,
    pub(super) event: NewEvent,
    pub(super) recorded_at: Timestamp,
    pub(super) hash: Hash,
}

impl ARec {
    pub(super) fn receipt(&self) -> Receipt {
        Receipt {
            seq: self.seq,
            event_id: self.id,
            stream: self.stream.clone(),
            version: self.version,
            hash: self.hash,
        }
    }
}

pub(super) enum Mode {
    Sync(Ledger),
    Async(LedgerHandle),
    Closed,
}

pub(super) struct Sut {
    pub(super) mode: Mode,
    pub(super) log: Vec<ARec>,
    pub(super) by_id: HashMap<Uuid, usize>,
    /// Ids of refused events (and losing contested ones) that were never accepted.
    pub(super) absent: Vec<Uuid>,
    pub(super) step: usize,
    /// Where the ledger lives (a sled directory or a PostgreSQL database).
    pub(super) fixture: Fixture,
    /// The reference model's views as of one sequence, kept while several checks compare
    /// against the same point (the acknowledged log only grows, so a prefix never changes).
    pub(super) model_views: RefCell<Option<(u64, ViewsJson)>>,
}

thread_local! {
    /// The backend the Suts of this thread's test are made on.
    pub(super) static BACKEND: std::cell::Cell<Kind> = const { std::cell::Cell::new(Kind::Sled) };
}

pub(super) fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

impl Sut {
    pub(super) fn new() -> Sut {
        let fixture = Fixture::of(BACKEND.with(std::cell::Cell::get));
        let ledger = fixture.create();
        Sut {
            mode: Mode::Sync(ledger),
            log: Vec::new(),
            by_id: HashMap::new(),
            absent: Vec::new(),
            step: 0,
            fixture,
            model_views: RefCell::new(None),
        }
    }

    pub(super) fn reader(&self) -> Reader {
        match &self.mode {
            Mode::Sync(l) => l.reader(),
            Mode::Async(h) => h.reader().clone(),
            Mode::Closed => panic!("the ledger is closed"),
        }
    }

    pub(super) fn head(&self) -> u64 {
        self.log.len() as u64
    }

    pub(super) fn hash_of(&self, seq: u64) -> Hash {
        if seq == 0 {
            [0; 32]
        } else {
            self.log[seq as usize - 1].hash
        }
    }

    pub(super) fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<Receipt>, Error> {
        match &mut self.mode {
            Mode::Sync(l) => l.append(events),
            Mode::Async(h) => {
                stat("append: sequential, through the handle", None);
                rt().block_on(h.append(events))
            }
            Mode::Closed => panic!("the ledger is closed"),
        }
    }

    pub(super) fn ensure_async(&mut self) {
        if let Mode::Sync(_) = self.mode {
            let Mode::Sync(ledger) = std::mem::replace(&mut self.mode, Mode::Closed) else {
                unreachable!()
            };
            self.mode = Mode::Async(LedgerHandle::start(ledger));
        }
    }

    pub(super) fn close(&mut self) {
        match std::mem::replace(&mut self.mode, Mode::Closed) {
            Mode::Async(h) => rt().block_on(h.close()),
            Mode::Sync(l) => drop(l),
            Mode::Closed => {}
        }
    }
}

impl Sut {
    /// Checks the receipts of an accepted submission; returns those of new records, with the
    /// events they record.
    pub(super) fn check_receipts(
        &self,
        receipts: &[Receipt],
        outs: &[EvExpect],
        events: &[NewEvent],
        first_seq: Option<u64>,
    ) -> Result<Vec<(Receipt, NewEvent)>, String> {
        if receipts.len() != outs.len() {
            return Err(format!(
                "{} receipts for {} events: {receipts:?}",
                receipts.len(),
                outs.len()
            ));
        }
        let mut news: Vec<(Receipt, NewEvent)> = Vec::new();
        for (i, (r, out)) in receipts.iter().zip(outs).enumerate() {
            match out {
                EvExpect::New { stream, version } => {
                    let seq_ok = match first_seq {
                        Some(first) => r.seq == first + news.len() as u64,
                        None => news.last().is_none_or(|(p, _)| r.seq == p.seq + 1),
                    };
                    let id_ok = events[i].event_id.is_none_or(|id| id == r.event_id);
                    if !seq_ok || &r.stream != stream || r.version != *version || !id_ok {
                        return Err(format!(
                            "event {i}: receipt {r:?}, the model expects a new record on {stream} v{version} (sequence {})",
                            first_seq.map_or("consecutive".into(), |f| (f + news.len() as u64)
                                .to_string())
                        ));
                    }
                    news.push((r.clone(), events[i].clone()));
                }
                EvExpect::Existing(id) => {
                    let original = self.by_id.get(id).map(|i| self.log[*i].receipt());
                    if original.as_ref() != Some(r) {
                        return Err(format!(
                            "event {i} re-sends {id}: receipt {r:?}, the original is {original:?}"
                        ));
                    }
                }
                EvExpect::SameAs(j) => {
                    if receipts.get(*j) != Some(r) {
                        return Err(format!(
                            "event {i} repeats event {j} of the batch: receipt {r:?}, event {j} got {:?}",
                            receipts.get(*j)
                        ));
                    }
                }
            }
        }
        Ok(news)
    }

    /// Reads the new records `head+1..` and adds them to the model after checking them against
    /// their receipts, their events, the chain and the recording clock.
    pub(super) fn learn(
        &mut self,
        mut news: Vec<(Receipt, NewEvent)>,
        before: Timestamp,
        after: Timestamp,
    ) -> Check {
        news.sort_by_key(|(r, _)| r.seq);
        let head = self.head();
        let seqs: Vec<u64> = news.iter().map(|(r, _)| r.seq).collect();
        if seqs != (head + 1..=head + news.len() as u64).collect::<Vec<_>>() {
            return Err(format!(
                "new sequences {seqs:?} are not gap-free from the head {head}"
            ));
        }
        if news.is_empty() {
            return Ok(());
        }
        let records = self
            .reader()
            .read_forward(head + 1, news.len())
            .map_err(|e| format!("read_forward of the new records: {e}"))?;
        if records.len() != news.len() {
            return Err(format!(
                "{} new records acknowledged, {} readable",
                news.len(),
                records.len()
            ));
        }
        for (record, (receipt, event)) in records.iter().zip(news) {
            let previous = self
                .log
                .last()
                .map_or(Timestamp::UNIX_EPOCH, |a| a.recorded_at);
            let at = record.envelope.recorded_at;
            if at < before || at > after || at < previous {
                return Err(format!(
                    "record {} recorded at {at}: outside the append ({before} .. {after}) or before the previous record ({previous})",
                    receipt.seq
                ));
            }
            let a = ARec {
                seq: receipt.seq,
                id: receipt.event_id,
                stream: receipt.stream.clone(),
                version: receipt.version,
                event,
                recorded_at: at,
                hash: receipt.hash,
            };
            let expected = self.expected_record(&a);
            if *record != expected {
                return Err(format!(
                    "new record {} differs from its receipt and event\n  ledger: {record:?}\n  model:  {expected:?}",
                    receipt.seq
                ));
            }
            stat(
                &format!("recorded events: {}", a.event.payload.event_type()),
                None,
            );
            self.by_id.insert(a.id, self.log.len());
            self.absent.retain(|id| *id != a.id);
            self.log.push(a);
        }
        Ok(())
    }

    /// After a refusal: ids of the refused events that are not in the log must stay unknown.
    pub(super) fn note_absent(&mut self, events: &[NewEvent]) -> Check {
        let reader = self.reader();
        for id in events.iter().filter_map(|e| e.event_id) {
            if self.by_id.contains_key(&id) {
                continue;
            }
            let got = reader.get(&id).map_err(|e| format!("get({id}): {e}"))?;
            if let Some(record) = got {
                return Err(format!(
                    "refused event {id} is in the ledger at {}",
                    record.sequence
                ));
            }
            if !self.absent.contains(&id) {
                self.absent.push(id);
            }
        }
        Ok(())
    }

    pub(super) fn run_append(
        &mut self,
        label: &str,
        events: &[NewEvent],
        expect: &BatchExpect,
    ) -> Check {
        let head = self.head();
        let before = Timestamp::now();
        let result = self.append(events.to_vec());
        let after = Timestamp::now();
        match (result, expect) {
            (Ok(receipts), Ok(outs)) => {
                stat_outcome(label, true);
                let news = self.check_receipts(&receipts, outs, events, Some(head + 1))?;
                self.learn(news, before, after)?;
            }
            (Err(e), Err(refusal)) => {
                stat_outcome(label, false);
                check_refusal(&e, refusal)?;
                self.check_head()
                    .map_err(|m| format!("a refused batch wrote something: {m}"))?;
                self.note_absent(events)?;
            }
            (Ok(receipts), Err(refusal)) => {
                return Err(format!(
                    "accepted with receipts {receipts:?}; the model expects a refusal {:?}\n  events: {events:?}",
                    refusal.failures
                ));
            }
            (Err(e), Ok(outs)) => {
                return Err(format!(
                    "refused ({e}); the model expects acceptance as {outs:?}\n  events: {events:?}"
                ));
            }
        }
        self.check_head()
    }

    pub(super) fn run_concurrent(&mut self, subs: &[Sub], expects: &[SubExpect]) -> Check {
        self.ensure_async();
        let Mode::Async(handle) = &self.mode else {
            unreachable!()
        };
        let syncs = handle.reader().sync_count();
        let before = Timestamp::now();
        let results: Vec<Result<Vec<Receipt>, Error>> = rt().block_on(async {
            let barrier = Arc::new(tokio::sync::Barrier::new(subs.len()));
            let tasks: Vec<_> = subs
                .iter()
                .map(|sub| {
                    let handle = handle.clone();
                    let barrier = Arc::clone(&barrier);
                    let events = sub.events.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        handle.append(events).await
                    })
                })
                .collect();
            let mut out = Vec::new();
            for task in tasks {
                out.push(task.await.expect("append task"));
            }
            out
        });
        let after = Timestamp::now();
        let syncs = handle.reader().sync_count() - syncs;
        let mut news: Vec<(Receipt, NewEvent)> = Vec::new();
        let mut wins: BTreeMap<u8, usize> = BTreeMap::new();
        let mut first_answer: BTreeMap<u8, Vec<Receipt>> = BTreeMap::new();
        let mut accepted_subs = 0u64;
        let label = "concurrent batch (LedgerHandle): submissions";
        for (i, ((sub, result), expect)) in subs.iter().zip(&results).zip(expects).enumerate() {
            let context = |m: String| {
                format!(
                    "submission {i} of {}: {m}\n  events: {:?}",
                    subs.len(),
                    sub.events
                )
            };
            let (accepted, refusal) = match expect {
                SubExpect::Alone(Ok(outs)) => (Some(outs), None),
                SubExpect::Alone(Err(r)) => (None, Some(r)),
                SubExpect::Identical { group, expect } => {
                    if let (Ok(receipts), Some(first)) = (result, first_answer.get(group)) {
                        // A copy of a submission already checked: the very same receipts.
                        if receipts != first {
                            return Err(context(format!(
                                "identical copies got different receipts: {receipts:?} and {first:?}"
                            )));
                        }
                        accepted_subs += 1;
                        stat_outcome(label, true);
                        continue;
                    }
                    if let Ok(receipts) = result {
                        first_answer.insert(*group, receipts.clone());
                    }
                    match expect {
                        Ok(outs) => (Some(outs), None),
                        Err(r) => (None, Some(r)),
                    }
                }
                SubExpect::Contested {
                    group,
                    winner,
                    refusal,
                } => {
                    if result.is_ok() {
                        *wins.entry(*group).or_default() += 1;
                        (winner.as_ref(), Some(refusal))
                    } else {
                        wins.entry(*group).or_default();
                        (None, Some(refusal))
                    }
                }
            };
            match (result, accepted) {
                (Ok(receipts), Some(outs)) => {
                    accepted_subs += 1;
                    stat_outcome(label, true);
                    let mine = self
                        .check_receipts(receipts, outs, &sub.events, None)
                        .map_err(context)?;
                    news.extend(mine);
                }
                (Err(e), _) if refusal.is_some() => {
                    stat_outcome(label, false);
                    check_refusal(e, refusal.expect("refusal")).map_err(context)?;
                }
                (Ok(receipts), None) => {
                    return Err(context(format!(
                        "accepted with {receipts:?}; the model expects a refusal ({expect:?})"
                    )));
                }
                (Err(e), _) => {
                    return Err(context(format!(
                        "refused ({e}); the model expects acceptance ({expect:?})"
                    )));
                }
            }
        }
        let mut seen_groups = BTreeSet::new();
        for expect in expects {
            match expect {
                SubExpect::Contested { group, winner, .. } if seen_groups.insert(*group) => {
                    stat(
                        if winner.is_some() {
                            "concurrent batch (LedgerHandle): contested groups, one winner"
                        } else {
                            "concurrent batch (LedgerHandle): contested groups, all refused"
                        },
                        None,
                    );
                }
                SubExpect::Identical { group, .. } if seen_groups.insert(*group) => {
                    stat(
                        "concurrent batch (LedgerHandle): identical retries racing",
                        None,
                    );
                }
                _ => {}
            }
            if let SubExpect::Contested { group, winner, .. } = expect {
                let want = usize::from(winner.is_some());
                if wins[group] != want {
                    return Err(format!(
                        "contested group {group}: {} submissions won, the model expects {want} ({expect:?})",
                        wins[group]
                    ));
                }
            }
        }
        stat(
            "concurrent batch (LedgerHandle): group-commit syncs",
            Some(syncs),
        );
        if syncs > accepted_subs {
            return Err(format!(
                "{syncs} syncs for {accepted_subs} accepted submissions"
            ));
        }
        self.learn(news, before, after)?;
        let refused: Vec<NewEvent> = subs.iter().flat_map(|s| s.events.clone()).collect();
        self.note_absent(&refused)?;
        self.check_head()?;
        self.check_maintained_views()
    }

    pub(super) fn run_pipelined(
        &mut self,
        requests: &[Vec<NewEvent>],
        expects: &[SubExpect],
    ) -> Check {
        self.ensure_async();
        let Mode::Async(handle) = &self.mode else {
            unreachable!()
        };
        let handle = handle.clone();
        let syncs = handle.reader().sync_count();
        let before = Timestamp::now();
        let results: Vec<Result<Vec<Receipt>, Error>> = rt().block_on(async {
            let mut pending: Vec<_> = requests
                .iter()
                .map(|events| Box::pin(handle.append(events.clone())))
                .collect();
            // Poll each append once, in order: that queues its request on the writer's channel
            // before the next one is queued.
            let mut early: Vec<Option<Result<Vec<Receipt>, Error>>> = Vec::new();
            for fut in &mut pending {
                let polled =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
                early.push(match polled {
                    std::task::Poll::Ready(result) => Some(result),
                    std::task::Poll::Pending => None,
                });
            }
            let mut out = Vec::new();
            for (fut, early) in pending.into_iter().zip(early) {
                out.push(match early {
                    Some(result) => result,
                    None => fut.await,
                });
            }
            out
        });
        let after = Timestamp::now();
        let syncs = handle.reader().sync_count() - syncs;
        drop(handle);
        let label = "pipelined requests (LedgerHandle): requests";
        let mut next_seq = self.head() + 1;
        let mut news: Vec<(Receipt, NewEvent)> = Vec::new();
        let mut accepted = 0u64;
        for (i, ((events, result), expect)) in requests.iter().zip(results).zip(expects).enumerate()
        {
            let context = |m: String| {
                format!(
                    "request {i} of {}: {m}\n  events: {events:?}",
                    requests.len()
                )
            };
            let SubExpect::Alone(expect) = expect else {
                return Err(format!("no prediction for request {i}: {expect:?}"));
            };
            match (result, expect) {
                (Ok(receipts), Ok(outs)) => {
                    stat_outcome(label, true);
                    accepted += 1;
                    let mine = self
                        .check_receipts(&receipts, outs, events, Some(next_seq))
                        .map_err(context)?;
                    next_seq += mine.len() as u64;
                    news.extend(mine);
                }
                (Err(e), Err(refusal)) => {
                    stat_outcome(label, false);
                    check_refusal(&e, refusal).map_err(context)?;
                }
                (Ok(receipts), Err(refusal)) => {
                    return Err(context(format!(
                        "accepted with {receipts:?}; the model expects a refusal {:?}",
                        refusal.failures
                    )));
                }
                (Err(e), Ok(outs)) => {
                    return Err(context(format!(
                        "refused ({e}); the model expects acceptance as {outs:?}"
                    )));
                }
            }
        }
        stat(
            "pipelined requests (LedgerHandle): group-commit syncs",
            Some(syncs),
        );
        if syncs > accepted {
            return Err(format!("{syncs} syncs for {accepted} accepted requests"));
        }
        self.learn(news, before, after)?;
        let all: Vec<NewEvent> = requests.iter().flatten().cloned().collect();
        self.note_absent(&all)?;
        self.check_head()?;
        self.check_maintained_views()
    }

    pub(super) fn run_reopen(&mut self) -> Check {
        self.close();
        let report = coopledger::ledger::verify_at(&self.fixture.location, &mut |_| {})
            .map_err(|e| format!("verify_store of the closed ledger: {e}"))?;
        if report.events != self.head() || report.head_hash != self.hash_of(self.head()) {
            return Err(format!(
                "verify_store: {} events, head {}; the model has {} ({})",
                report.events,
                to_hex(&report.head_hash),
                self.head(),
                to_hex(&self.hash_of(self.head()))
            ));
        }
        let ledger = Ledger::open_at(&self.fixture.location, coopledger::Options::default())
            .map_err(|e| format!("reopen: {e}"))?;
        self.mode = Mode::Sync(ledger);
        self.check_all()?;
        self.check_views(self.head(), true)?;
        self.check_maintained_views()
    }
}

impl Drop for Sut {
    fn drop(&mut self) {
        // The writer thread must let go of the directory before it is deleted.
        if let Mode::Async(h) = std::mem::replace(&mut self.mode, Mode::Closed) {
            rt().block_on(h.close());
        }
    }
}
