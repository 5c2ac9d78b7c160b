//! Splitting a text into events: limits checked before the work, and work linear in the text.
//!
//! A security finding: the array form looked up each element's line by rescanning the text from
//! its start, so a JSON array of 10,000 valid events took seconds (and a million `{}` minutes)
//! where the same events as JSONL took a fraction of one. These tests pin the fix without
//! absolute time limits, which a loaded machine would break:
//!
//! - a text over the event limit is refused *before the rest of it is read*: the tests put a
//!   syntax error after the first 10,001 elements (or lines), and the refusal must name the limit,
//!   not the syntax error — proof that the parser stopped;
//! - parsing four times as many events takes less than eight times as long (linear work gives
//!   about four, quadratic about sixteen); each size is timed several times, interleaved, and the
//!   fastest run of each counts, so a burst of load on the machine does not decide the outcome;
//! - the lines reported for the elements of a pretty-printed array are those a naive count gives.

use std::time::{Duration, Instant};

use proto_events::staff::{self, Mode, parse_text};
use proto_events::validate::{Position, Rule, Violation};
use proto_events::{Date, Stream};
use serde_json::{Value, json};

/// The most events of one text: one batch of the ledger.
const LIMIT: usize = staff::MAX_TEXT_EVENTS;

fn today() -> Date {
    jiff::civil::date(2025, 6, 30)
}

/// A valid `ActivityDelivered` with activity and event ids ending in `n`.
fn event(n: usize) -> Value {
    json!({
        "type": "ActivityDelivered",
        "recorded_by": "staff.vienna",
        "event_id": format!("0190f0a1-7c2e-7a10-8b3e-{n:012x}"),
        "activity_id": format!("0190f0a1-7c2e-7a10-9b3e-{n:012x}"),
        "kind": "workshop",
        "title": "Workshop on financial investigations",
        "pillar": "capacity_building",
        "start": "2018-07-16",
        "end": "2018-07-18",
        "venue": {"city": "Lagos", "country": "NG"},
        "beneficiaries": ["NG", "GH"],
        "participants": {"total": 30, "women": 5}
    })
}

/// `n` valid events as a JSON array, one element a line after the opening bracket.
fn array_of_events(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| event(i).to_string()).collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// The one violation of a refused text.
fn refused(text: &str) -> Violation {
    match parse_text(text, Mode::Staff, today()) {
        Ok(events) => panic!("accepted {} events", events.len()),
        Err(all) => match <[Violation; 1]>::try_from(all) {
            Ok([v]) => v,
            Err(all) => panic!(
                "expected one violation, got {}: {:#?}",
                all.len(),
                all.iter().take(3).collect::<Vec<_>>()
            ),
        },
    }
}

fn assert_too_many(v: &Violation, line: usize) {
    assert_eq!(
        (v.rule, v.field.as_str(), v.position),
        (
            Rule::TooManyEvents,
            "",
            Some(Position { index: LIMIT, line })
        ),
        "{v:?}"
    );
    assert!(
        v.value.contains(&LIMIT.to_string()),
        "names the limit: {v:?}"
    );
}

#[test]
fn an_array_of_a_million_objects_is_refused_before_the_rest_is_read() {
    // The text ends in a syntax error: reporting it would mean the whole array was read.
    let text = format!("[{}, oops", vec!["{}"; 1_000_000].join(","));
    assert_too_many(&refused(&text), 1);
}

#[test]
fn an_array_of_20000_objects_is_refused_as_one_violation() {
    // Each `{}` lacks a type; one violation for the text, not 20,000 for its events.
    let text = format!("[\n{}\n]", vec!["{}"; 20_000].join(",\n"));
    assert_too_many(&refused(&text), LIMIT + 2);
}

#[test]
fn jsonl_over_the_limit_is_refused_before_the_rest_is_read() {
    let lines: Vec<String> = (0..=LIMIT).map(|i| event(i).to_string()).collect();
    let mut text = lines.join("\n");
    text.push_str("\n{\"type\": oops\n");
    assert_too_many(&refused(&text), LIMIT + 1);
}

#[test]
fn an_array_of_exactly_the_limit_is_read_with_its_lines() {
    let events = parse_text(&array_of_events(LIMIT), Mode::Staff, today()).expect("valid");
    assert_eq!(events.len(), LIMIT);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.position,
            Position {
                index: i,
                line: i + 2
            },
            "event {i}"
        );
    }
    let last = events.last().expect("events");
    assert_eq!(
        last.event.payload.stream().expect("stream").to_string(),
        format!(
            "{}",
            Stream::Activity(
                "0190f0a1-7c2e-7a10-9b3e-00000000270f"
                    .parse()
                    .expect("uuid")
            )
        )
    );
}

#[test]
fn a_text_over_the_size_limit_is_refused_unread() {
    // Blanks, which would otherwise be "no events".
    let text = " ".repeat(staff::MAX_TEXT + 1);
    let v = refused(&text);
    assert_eq!(
        (v.rule, v.field.as_str(), v.position),
        (Rule::TooLarge, "", Some(Position { index: 0, line: 1 })),
        "{v:?}"
    );
    assert!(
        v.value.contains(&staff::MAX_TEXT.to_string()),
        "names the limit: {v:?}"
    );
}

#[test]
fn lines_of_a_pretty_array_match_a_naive_count() {
    // Elements separated by a varying number of newlines, some inside the elements themselves.
    let mut text = String::from("\n[");
    let mut expected = Vec::new();
    for i in 0..300 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&"\n".repeat(i % 4));
        expected.push(text.matches('\n').count() + 1);
        let element = if i % 3 == 0 {
            serde_json::to_string_pretty(&event(i)).expect("json")
        } else {
            event(i).to_string()
        };
        text.push_str(&element);
    }
    text.push_str("\n]\n");
    let events = parse_text(&text, Mode::Staff, today()).expect("valid");
    let lines: Vec<usize> = events.iter().map(|e| e.position.line).collect();
    assert_eq!(lines, expected);
}

/// How long one parse of `text` (valid events) takes.
fn timed(text: &str) -> Duration {
    let start = Instant::now();
    let events = parse_text(text, Mode::Staff, today()).expect("valid");
    let took = start.elapsed();
    assert!(!events.is_empty());
    took
}

#[test]
fn parsing_an_array_is_linear_in_its_events() {
    const N: usize = 1_000;
    const RUNS: usize = 5;
    let small = array_of_events(N);
    let large = array_of_events(4 * N);
    let (mut best_small, mut best_large) = (Duration::MAX, Duration::MAX);
    // Interleaved, so that load on the machine falls on both sizes alike.
    for _ in 0..RUNS {
        best_small = best_small.min(timed(&small));
        best_large = best_large.min(timed(&large));
    }
    let ratio = best_large.as_secs_f64() / best_small.as_secs_f64();
    eprintln!(
        "{N} events: {best_small:?}; {} events: {best_large:?}; ratio {ratio:.1}",
        4 * N
    );
    assert!(
        ratio < 8.0,
        "4x the events took {ratio:.1}x the time ({best_small:?} -> {best_large:?}): not linear"
    );
}
