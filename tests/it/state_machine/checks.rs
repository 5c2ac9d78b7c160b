//! The comparisons of the real ledger against the model and the acknowledged log: refusals,
//! records, reads, as-of points, views and verification.

use std::cell::Ref;
use std::collections::{BTreeMap, BTreeSet};

use coopledger::ledger::MAX_PAGE;
use coopledger::proto_events::hash::to_hex;
use coopledger::proto_events::{CountryCode, Envelope, RecordedEvent, Rule, Stream, Timestamp};
use coopledger::views::ViewState;
use coopledger::{AsOf, Error};
use serde_json::Value;
use uuid::Uuid;

use super::data::unknown_id;
use super::model::Refusal;
use super::rules::is_conflict;
use super::stats::stat;
use super::sut::{ARec, Sut};
use super::views::{ViewsJson, model_views};

pub(super) type Check = Result<(), String>;

pub(super) fn check_refusal(e: &Error, expected: &Refusal) -> Check {
    let mut reported: BTreeMap<usize, BTreeSet<Rule>> = BTreeMap::new();
    for v in e.violations() {
        let Some(position) = v.position else {
            return Err(format!("violation {v} names no event ({e})"));
        };
        reported.entry(position.index).or_default().insert(v.rule);
    }
    let all: BTreeMap<usize, BTreeSet<Rule>> = expected.failures.iter().cloned().collect();
    let first: BTreeMap<usize, BTreeSet<Rule>> = expected.failures[..1].iter().cloned().collect();
    if reported != all && reported != first {
        return Err(format!(
            "refused with rules by event {reported:?}; the model expects {first:?} (first failing event) or {all:?} (every failing event) ({e})"
        ));
    }
    if all.len() > 1 {
        stat(
            if reported == all {
                "refusals: every failing event of the batch reported"
            } else {
                "refusals: only the first failing event reported"
            },
            None,
        );
    }
    let rules: Vec<Rule> = reported.values().flatten().copied().collect();
    let conflict = rules.iter().all(|r| is_conflict(*r));
    let invalid = rules.iter().all(|r| !is_conflict(*r));
    match e {
        Error::Conflict(_) if !invalid => {}
        Error::Invalid(_) if !conflict => {}
        other => {
            return Err(format!(
                "refused as {other:?}, expected {}",
                if conflict { "a conflict" } else { "invalid" }
            ));
        }
    }
    if !conflict && !invalid {
        stat(
            match e {
                Error::Conflict(_) => "refusals: conflict and invalid rules together -> Conflict",
                _ => "refusals: conflict and invalid rules together -> Invalid",
            },
            None,
        );
    }
    Ok(())
}

impl Sut {
    /// The expected record of `a` as read from the ledger.
    pub(super) fn expected_record(&self, a: &ARec) -> RecordedEvent {
        let event_type = a.event.payload.event_type();
        RecordedEvent {
            sequence: a.seq,
            stream_version: a.version,
            envelope: Envelope {
                event_id: a.id,
                stream: a.stream.clone(),
                event_type,
                schema_version: event_type.schema_version(),
                recorded_by: a.event.recorded_by.clone(),
                recorded_at: a.recorded_at,
                source: a.event.source.clone(),
                correlation_id: a.event.correlation_id,
                causation_id: a.event.causation_id,
            },
            payload: a.event.payload.clone(),
            prev_hash: self.hash_of(a.seq - 1),
            hash: a.hash,
        }
    }

    pub(super) fn check_record(&self, what: &str, got: &RecordedEvent, seq: u64) -> Check {
        let Some(a) = self.log.get(seq as usize - 1) else {
            return Err(format!("{what}: record {seq} is beyond the model's head"));
        };
        let expected = self.expected_record(a);
        if *got != expected {
            return Err(format!(
                "{what}: record {seq} differs from the acknowledged one\n  ledger: {got:?}\n  model:  {expected:?}"
            ));
        }
        Ok(())
    }

    /// Checks a list of records against the model and the chain between them.
    pub(super) fn check_records(&self, what: &str, got: &[RecordedEvent], seqs: &[u64]) -> Check {
        let got_seqs: Vec<u64> = got.iter().map(|e| e.sequence).collect();
        if got_seqs != seqs {
            return Err(format!(
                "{what}: sequences {got_seqs:?}, the model expects {seqs:?}"
            ));
        }
        for e in got {
            self.check_record(what, e, e.sequence)?;
        }
        Ok(())
    }

    pub(super) fn check_head(&self) -> Check {
        let head = self.reader().head();
        let (seq, hash) = (self.head(), self.hash_of(self.head()));
        let recorded_at = self
            .log
            .last()
            .map_or(Timestamp::UNIX_EPOCH, |a| a.recorded_at);
        if head.seq != seq || head.hash != hash || head.recorded_at != recorded_at {
            return Err(format!(
                "head is {} ({}), recorded {}; the model says {seq} ({}), recorded {recorded_at}",
                head.seq,
                to_hex(&head.hash),
                head.recorded_at,
                to_hex(&hash)
            ));
        }
        Ok(())
    }

    /// Every acknowledged record, read back in one page.
    pub(super) fn check_all(&self) -> Check {
        let all = self
            .reader()
            .read_forward(1, MAX_PAGE)
            .map_err(|e| format!("read_forward(1, all): {e}"))?;
        self.check_records(
            "read_forward(1, all)",
            &all,
            &(1..=self.head()).collect::<Vec<_>>(),
        )?;
        self.check_head()
    }

    pub(super) fn run_get(&self, pick: u64, unknown: Uuid) -> Check {
        let reader = self.reader();
        let (id, expected) = match pick % 4 {
            0 | 1 if !self.log.is_empty() => {
                let a = &self.log[(pick / 4) as usize % self.log.len()];
                (a.id, Some(a.seq))
            }
            2 if !self.absent.is_empty() => {
                (self.absent[(pick / 4) as usize % self.absent.len()], None)
            }
            _ => (unknown, None),
        };
        let got = reader.get(&id).map_err(|e| format!("get({id}): {e}"))?;
        match (got, expected) {
            (Some(record), Some(seq)) => self.check_record(&format!("get({id})"), &record, seq),
            (None, None) => Ok(()),
            (got, expected) => Err(format!(
                "get({id}) found {:?}, the model expects {expected:?}",
                got.map(|r| r.sequence)
            )),
        }
    }

    pub(super) fn run_read_forward(&self, from: u64, limit: u64) -> Check {
        let head = self.head();
        let from = from % (head + 3);
        let limit = if limit.is_multiple_of(8) {
            MAX_PAGE + 5
        } else {
            (limit % (head + 3)) as usize
        };
        let got = self
            .reader()
            .read_forward(from, limit)
            .map_err(|e| format!("read_forward({from}, {limit}): {e}"))?;
        let first = from.max(1);
        let last = head.min(
            first
                .saturating_add(limit.min(MAX_PAGE) as u64)
                .saturating_sub(1),
        );
        let seqs: Vec<u64> = if limit == 0 {
            Vec::new()
        } else {
            (first..=last).collect()
        };
        self.check_records(&format!("read_forward({from}, {limit})"), &got, &seqs)
    }

    pub(super) fn run_read_backward(&self, from: u64, limit: u64) -> Check {
        let head = self.head();
        let from = from % (head + 3);
        let limit = if limit.is_multiple_of(8) {
            MAX_PAGE + 5
        } else {
            (limit % (head + 3)) as usize
        };
        let got = self
            .reader()
            .read_backward(from, limit)
            .map_err(|e| format!("read_backward({from}, {limit}): {e}"))?;
        let top = from.min(head);
        let seqs: Vec<u64> = if top == 0 || limit == 0 {
            Vec::new()
        } else {
            let bottom = top.saturating_sub(limit.min(MAX_PAGE) as u64 - 1).max(1);
            (bottom..=top).rev().collect()
        };
        // Newest first: each record's prev_hash is the hash of the one after it in the page.
        for pair in got.windows(2) {
            if pair[0].prev_hash != pair[1].hash {
                return Err(format!(
                    "read_backward: record {}'s prev_hash is not record {}'s hash",
                    pair[0].sequence, pair[1].sequence
                ));
            }
        }
        self.check_records(&format!("read_backward({from}, {limit})"), &got, &seqs)
    }

    pub(super) fn run_read_stream(&self, pick: u64, from_version: u64, limit: u64) -> Check {
        let reader = self.reader();
        let mut streams: Vec<Stream> = Vec::new();
        for a in &self.log {
            if !streams.contains(&a.stream) {
                streams.push(a.stream.clone());
            }
        }
        let stream = if streams.is_empty() || pick.is_multiple_of(7) {
            Stream::Meeting(unknown_id(pick))
        } else {
            streams[(pick / 7) as usize % streams.len()].clone()
        };
        let recs: Vec<&ARec> = self.log.iter().filter(|a| a.stream == stream).collect();
        let version = recs.len() as u64;
        let got_version = reader
            .stream_version(&stream)
            .map_err(|e| format!("stream_version: {e}"))?;
        if got_version != version {
            return Err(format!(
                "stream_version({stream}) is {got_version}, the model says {version}"
            ));
        }
        let from_version = from_version % (version + 3);
        let limit = (limit % (version + 3)) as usize;
        let got = reader
            .read_stream(&stream, from_version, limit)
            .map_err(|e| format!("read_stream({stream}, {from_version}, {limit}): {e}"))?;
        let seqs: Vec<u64> = recs
            .iter()
            .skip(from_version.max(1) as usize - 1)
            .take(limit)
            .map(|a| a.seq)
            .collect();
        let what = format!("read_stream({stream}, {from_version}, {limit})");
        self.check_records(&what, &got, &seqs)?;
        for (i, e) in got.iter().enumerate() {
            if e.stream_version != from_version.max(1) + i as u64 {
                return Err(format!(
                    "{what}: versions not consecutive from {from_version}"
                ));
            }
        }
        Ok(())
    }

    pub(super) fn seq_at(&self, t: Timestamp) -> u64 {
        self.log
            .iter()
            .filter(|a| a.recorded_at <= t)
            .map(|a| a.seq)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn run_seq_at_time(&self, picks: &[u64]) -> Check {
        let reader = self.reader();
        let mut times = vec![Timestamp::MIN, Timestamp::now()];
        for pick in picks {
            if let Some(a) = self.log.get(*pick as usize % self.log.len().max(1)) {
                times.push(a.recorded_at);
                if let Ok(t) = a
                    .recorded_at
                    .checked_sub(jiff::SignedDuration::from_nanos(1))
                {
                    times.push(t);
                }
            }
        }
        for t in times {
            let got = reader
                .seq_at_time(t)
                .map_err(|e| format!("seq_at_time({t}): {e}"))?;
            let expected = self.seq_at(t);
            if got != expected {
                return Err(format!(
                    "seq_at_time({t}) is {got}, the model says {expected} (recording times: {:?})",
                    self.log
                        .iter()
                        .map(|a| (a.seq, a.recorded_at))
                        .collect::<Vec<_>>()
                ));
            }
        }
        Ok(())
    }

    pub(super) fn check_views(&self, k: u64, head_too: bool) -> Check {
        let reader = self.reader();
        if k > self.head() {
            // Beyond the head: refused, never answered with the head's views.
            return match reader.views_at(AsOf::sequence(k)) {
                Err(coopledger::Error::BeyondHead { head, .. }) if head == self.head() => Ok(()),
                other => Err(format!(
                    "views_at(sequence {k}) beyond the head {}: {:?}",
                    self.head(),
                    other.map(|v| v.as_of)
                )),
            };
        }
        let upto = k;
        let mut points = vec![(AsOf::sequence(k), upto)];
        if head_too {
            points.push((AsOf::HEAD, self.head()));
        }
        for (at, upto) in points {
            let views = reader
                .views_at(at)
                .map_err(|e| format!("views_at({at:?}): {e}"))?;
            if views.as_of != upto {
                return Err(format!(
                    "views_at({at:?}).as_of is {}, expected {upto}",
                    views.as_of
                ));
            }
            self.compare_with_model(&format!("views_at({at:?})"), &views_json(&views), upto)?;
        }
        Ok(())
    }

    /// `views_at(Time(t))` for the recording time of record `k`: the views after the last
    /// record recorded at or before `t`.
    pub(super) fn check_views_at_time(&self, k: u64) -> Check {
        let t = self.log[k as usize - 1].recorded_at;
        let upto = self.seq_at(t);
        let views = self
            .reader()
            .views_at(AsOf::time(t))
            .map_err(|e| format!("views_at(Time({t})): {e}"))?;
        if views.as_of != upto {
            return Err(format!(
                "views_at(Time({t})): as_of {}; the model says {upto}",
                views.as_of,
            ));
        }
        self.compare_with_model(&format!("views_at(Time({t}))"), &views_json(&views), upto)
    }

    /// The views maintained append by append (and loaded at open) equal a fresh fold of the
    /// whole log — refused requests inside group commits and reopens leave no trace in them —
    /// and the reference model's.
    pub(super) fn check_maintained_views(&self) -> Check {
        let reader = self.reader();
        let head = self.head();
        let maintained = reader.views();
        let fresh = coopledger::ledger::fold::fold(&reader, head, None, &mut |_| {})
            .map_err(|e| format!("fold: {e}"))?;
        if maintained.as_of != head || fresh.as_of != head {
            return Err(format!(
                "maintained views as of {}, fresh fold as of {}, head {head}",
                maintained.as_of, fresh.as_of
            ));
        }
        let maintained = views_json(&maintained);
        let folded = views_json(&fresh);
        let countries: BTreeSet<&CountryCode> = maintained.countries.keys().collect();
        let in_fold: BTreeSet<&CountryCode> = folded.countries.keys().collect();
        if countries != in_fold {
            return Err(format!(
                "maintained views exist for {countries:?}, a fresh fold has {in_fold:?}"
            ));
        }
        for (c, a) in &maintained.countries {
            let b = &folded.countries[c];
            if a != b {
                return Err(format!(
                    "maintained view of {c} differs from a fresh fold:\n  maintained: {a}\n  fresh:      {b}"
                ));
            }
        }
        let (a, b) = (&maintained.interregional, &folded.interregional);
        if a != b {
            return Err(format!(
                "maintained inter-regional view differs from a fresh fold:\n  maintained: {a}\n  fresh:      {b}"
            ));
        }
        self.compare_with_model("maintained views", &maintained, head)
    }

    /// The reference model's views as of `upto`, computed from the acknowledged records
    /// `1..=upto`.
    fn model_views_at(&self, upto: u64) -> Ref<'_, ViewsJson> {
        {
            let mut memo = self.model_views.borrow_mut();
            if memo.as_ref().is_none_or(|(at, _)| *at != upto) {
                let records = self.log[..upto as usize]
                    .iter()
                    .map(|a| (Some(a.id), &a.event.payload));
                *memo = Some((upto, model_views(records, upto)));
            }
        }
        Ref::map(self.model_views.borrow(), |memo| {
            &memo.as_ref().expect("just computed").1
        })
    }

    /// Views as of `upto` (as JSON) against the reference model's (`views.rs`): which
    /// countries have a view, every per-country view and the inter-regional view.
    fn compare_with_model(&self, what: &str, views: &ViewsJson, upto: u64) -> Check {
        let model = self.model_views_at(upto);
        let got: BTreeSet<&CountryCode> = views.countries.keys().collect();
        let expected: BTreeSet<&CountryCode> = model.countries.keys().collect();
        if got != expected {
            return Err(format!(
                "{what} has views for {got:?}; the model says {expected:?}"
            ));
        }
        for (c, want) in &model.countries {
            let got = &views.countries[c];
            if got != want {
                return Err(format!(
                    "{what}: the view of {c} differs from the model's\n  ledger: {got}\n  model:  {want}"
                ));
            }
        }
        if !same_interregional(&views.interregional, &model.interregional) {
            return Err(format!(
                "{what}: the inter-regional view differs from the model's\n  ledger: {}\n  model:  {}",
                views.interregional, model.interregional
            ));
        }
        Ok(())
    }

    pub(super) fn run_verify(&self) -> Check {
        let report = self
            .reader()
            .verify(&mut |_, _| {})
            .map_err(|e| format!("verify: {e}"))?;
        if report.events != self.head() || report.head_hash != self.hash_of(self.head()) {
            return Err(format!(
                "verify: {} events, head {}; the model has {}",
                report.events,
                to_hex(&report.head_hash),
                self.head()
            ));
        }
        Ok(())
    }
}

/// The ledger's views as the JSON the README documents.
fn views_json(views: &ViewState) -> ViewsJson {
    let mut countries = BTreeMap::new();
    for c in views.countries() {
        countries.insert(
            c,
            serde_json::to_value(views.country_view(c)).expect("view JSON"),
        );
    }
    ViewsJson {
        countries,
        interregional: serde_json::to_value(views.interregional_view()).expect("view JSON"),
    }
}

/// Inter-regional views, equal but for the order of `pairs` (domain.md fixes the order of the
/// names in a pair, not of the list) and the last bits of `share`. Neither domain.md nor the
/// README fixes its rounding (the README's example shows 5/12 as 0.4166); the ledger prints the
/// unrounded quotient, which the model's matches to 1e-9.
fn same_interregional(got: &Value, want: &Value) -> bool {
    let share = |v: &Value| v["interregional"]["share"].as_f64();
    let (Some(a), Some(b)) = (share(got), share(want)) else {
        return false;
    };
    if (a - b).abs() > 1e-9 {
        return false;
    }
    let normal = |v: &Value| {
        let mut v = v.clone();
        v["interregional"]["share"] = Value::Null;
        if let Some(pairs) = v["pairs"].as_array_mut() {
            pairs.sort_by_key(|p| p["regions"].to_string());
        }
        v
    };
    normal(got) == normal(want)
}
