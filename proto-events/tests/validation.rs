//! The intrinsic validation rules of domain.md ("Validation"), through the staff JSON parser.
//!
//! Each test feeds a JSONL text whose third line (second event) breaks exactly one rule and
//! checks the violation: position (index 1, line 3), event id, field path, rule and value.

use proto_events::staff::{Mode, parse_text};
use proto_events::validate::{Position, Rule, Violation};
use proto_events::values::{Milestone, Venue};
use proto_events::{CountryCode, Date, Fact, NewEvent, Payload};
use serde_json::{Value, json};
use uuid::Uuid;

const ID: &str = "0190f0a1-7c2e-7a10-8b3e-2f5c9d1e4a77";

fn today() -> Date {
    jiff::civil::date(2025, 6, 30)
}

fn id() -> Uuid {
    Uuid::parse_str(ID).expect("uuid")
}

/// A valid event for the lines around the one under test.
fn neighbour(n: u8) -> String {
    json!({
        "type": "CountryJoined",
        "event_id": format!("0190f0a1-7c2e-7a10-8b3e-00000000000{n}"),
        "recorded_by": "staff.vienna",
        "country": "GH",
        "joined_on": "2016-07-21",
        "participation": "beneficiary"
    })
    .to_string()
}

fn delivered() -> Value {
    json!({
        "type": "ActivityDelivered",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "activity_id": "0190f0a1-7c2e-7a10-8b3e-aaaaaaaaaaaa",
        "kind": "investigative_case_forum",
        "title": "Investigative case forum, Accra",
        "pillar": "interregional_cooperation",
        "start": "2019-10-29",
        "end": "2019-10-30",
        "venue": {"city": "Accra", "country": "GH"},
        "beneficiaries": ["GH", "NG", "CV", "GW", "GM"],
        "other_countries": ["BR", "ES", "PT", "ET"],
        "participants": {"total": 31}
    })
}

fn meeting() -> Value {
    json!({
        "type": "MeetingHeld",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "meeting_id": "0190f0a1-7c2e-7a10-8b3e-bbbbbbbbbbbb",
        "kind": "bilateral_briefing",
        "title": "Briefing with the permanent mission of Panama",
        "start": "2017-08-17",
        "end": "2017-08-17",
        "venue": {"city": "Vienna", "country": "AT"},
        "countries": ["PA"],
        "participants": {"total": 6, "women": 2, "men": 4}
    })
}

fn scheduled() -> Value {
    json!({
        "type": "ActivityScheduled",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "activity_id": "0190f0a1-7c2e-7a10-8b3e-aaaaaaaaaaab",
        "kind": "training",
        "title": "Training on container profiling",
        "start": "2026-03-02",
        "end": "2026-03-06",
        "venue": "virtual",
        "beneficiaries": ["DO"]
    })
}

fn case_opened() -> Value {
    json!({
        "type": "CaseOpened",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "case_id": "0190f0a1-7c2e-7a10-8b3e-cccccccccccc",
        "codename": "LISBON-BISSAU",
        "case_type": "post_seizure_investigation",
        "countries": ["PT", "GW"],
        "lead": "PT",
        "opened_on": "2024-07-09"
    })
}

fn milestone(m: Value) -> Value {
    json!({
        "type": "CaseMilestoneRecorded",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "case_id": "0190f0a1-7c2e-7a10-8b3e-cccccccccccc",
        "on": "2024-09-11",
        "milestone": m
    })
}

fn seizure() -> Value {
    json!({"kind": "seizure", "country": "GW", "commodity": "cocaine", "quantity_kg": 2630})
}

fn closed() -> Value {
    json!({
        "type": "CaseClosed",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "case_id": "0190f0a1-7c2e-7a10-8b3e-cccccccccccc",
        "closed_on": "2025-03-31",
        "outcome": "convicted"
    })
}

fn partner() -> Value {
    json!({
        "type": "PartnerRegistered",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "partner": "interpol",
        "name": "INTERPOL",
        "roles": ["implementing"],
        "registered_on": "2016-08-30"
    })
}

fn changed() -> Value {
    json!({
        "type": "ParticipationChanged",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "country": "BO",
        "changed_on": "2019-03-01",
        "participation": "suspended",
        "reason": "Focal point vacant"
    })
}

fn corrected(replacement: Value) -> Value {
    json!({
        "type": "EventCorrected",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "target": "0190f0a1-7c2e-7a10-8b3e-dddddddddddd",
        "replacement": replacement,
        "reason": "Second source reports 20 % women"
    })
}

/// `value` with `path` (JSON pointer) set to `new`.
fn set(mut value: Value, pointer: &str, new: Value) -> Value {
    let text = value.to_string();
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {text}")) = new;
    value
}

/// `value` with `key` of the object at `pointer` removed.
fn remove(mut value: Value, pointer: &str, key: &str) -> Value {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .unwrap_or_else(|| panic!("no {pointer}/{key}"));
    value
}

/// `value` with `key` added to the object at `pointer`.
fn add(mut value: Value, pointer: &str, key: &str, new: Value) -> Value {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {pointer}"))
        .insert(key.to_owned(), new);
    value
}

/// Parses `bad` as the third line (second event) of a JSONL text between valid events.
fn violations(bad: &Value) -> Vec<Violation> {
    let text = format!("{}\n\n{bad}\n{}\n", neighbour(1), neighbour(2));
    match parse_text(&text, Mode::Staff, today()) {
        Ok(events) => panic!("accepted {bad}: {events:#?}"),
        Err(v) => v,
    }
}

/// Checks that `bad` breaks exactly one rule, on the given field, quoting `value_part`.
fn only(bad: &Value, field: &str, rule: Rule, value_part: &str) -> Violation {
    let all = violations(bad);
    let [v] = all.as_slice() else {
        panic!("expected one violation of {rule}, got {all:#?}");
    };
    assert_eq!(
        v.position,
        Some(Position { index: 1, line: 3 }),
        "position of {v:?}"
    );
    assert_eq!(v.event_id, Some(id()), "event id of {v:?}");
    assert_eq!((v.field.as_str(), v.rule), (field, rule), "{v:?}");
    assert!(
        v.value.contains(value_part),
        "the value of {v:?} should quote {value_part:?}"
    );
    v.clone()
}

/// Parses one valid event.
fn accepted(event: &Value) -> NewEvent {
    match parse_text(&event.to_string(), Mode::Staff, today()) {
        Ok(mut events) if events.len() == 1 => events.remove(0).event,
        other => panic!("{event} should be accepted: {other:#?}"),
    }
}

/// The payload fields of an event (a correction's replacement carries no envelope fields).
fn payload_only(event: Value) -> Value {
    remove(
        remove(remove(event, "", "type"), "", "event_id"),
        "",
        "recorded_by",
    )
}

#[test]
fn the_base_events_are_valid() {
    for event in [
        delivered(),
        meeting(),
        scheduled(),
        case_opened(),
        milestone(seizure()),
        closed(),
        partner(),
        changed(),
        corrected(payload_only(delivered())),
        corrected(payload_only(meeting())),
    ] {
        accepted(&event);
    }
}

// ---------------------------------------------------------------------------------------------
// Dates.

#[test]
fn start_after_end() {
    let bad = set(delivered(), "/end", json!("2019-10-28"));
    let v = only(&bad, "start", Rule::StartAfterEnd, "2019-10-29");
    assert!(v.value.contains("2019-10-28"), "{v:?}");
    let bad = set(meeting(), "/start", json!("2017-08-18"));
    only(&bad, "start", Rule::StartAfterEnd, "2017-08-18");
}

#[test]
fn span_too_long() {
    // 2019-01-01 ..= 2019-03-04 is 63 days.
    let bad = set(
        set(delivered(), "/start", json!("2019-01-01")),
        "/end",
        json!("2019-03-04"),
    );
    only(&bad, "end", Rule::SpanTooLong, "63 days");
    let bad = set(
        set(scheduled(), "/start", json!("2026-01-01")),
        "/end",
        json!("2026-03-04"),
    );
    only(&bad, "end", Rule::SpanTooLong, "63 days");
    // 62 days is the limit and is accepted.
    accepted(&set(
        set(delivered(), "/start", json!("2019-01-01")),
        "/end",
        json!("2019-03-03"),
    ));
}

#[test]
fn date_too_early() {
    let bad = set(delivered(), "/start", json!("1999-12-31"));
    let bad = set(bad, "/end", json!("2000-01-01"));
    only(&bad, "start", Rule::DateTooEarly, "1999-12-31");
    let bad = set(case_opened(), "/opened_on", json!("1999-06-01"));
    only(&bad, "opened_on", Rule::DateTooEarly, "1999-06-01");
    let bad = set(partner(), "/registered_on", json!("1999-01-01"));
    only(&bad, "registered_on", Rule::DateTooEarly, "1999-01-01");
    let bad = set(milestone(seizure()), "/on", json!("1999-12-31"));
    only(&bad, "on", Rule::DateTooEarly, "1999-12-31");
    // The first day is accepted.
    accepted(&set(
        set(delivered(), "/start", json!("2000-01-01")),
        "/end",
        json!("2000-01-01"),
    ));
}

#[test]
fn date_in_future_for_things_that_happened() {
    let bad = set(
        set(meeting(), "/start", json!("2025-06-30")),
        "/end",
        json!("2025-07-01"),
    );
    only(&bad, "end", Rule::DateInFuture, "2025-07-01");
    let bad = set(
        set(delivered(), "/start", json!("2025-06-29")),
        "/end",
        json!("2025-07-01"),
    );
    only(&bad, "end", Rule::DateInFuture, "2025-07-01");
    let bad = set(milestone(seizure()), "/on", json!("2025-07-01"));
    only(&bad, "on", Rule::DateInFuture, "2025-07-01");
    let bad = set(closed(), "/closed_on", json!("2026-01-01"));
    only(&bad, "closed_on", Rule::DateInFuture, "2026-01-01");
    // The day of recording itself is not in the future.
    accepted(&set(closed(), "/closed_on", json!("2025-06-30")));
    // Plans may be in the future.
    accepted(&scheduled());
}

// ---------------------------------------------------------------------------------------------
// Countries.

#[test]
fn unknown_country_code() {
    let bad = set(delivered(), "/beneficiaries/1", json!("XX"));
    only(&bad, "beneficiaries[1]", Rule::CountryCode, "XX");
    let bad = set(delivered(), "/venue/country", json!("XX"));
    only(&bad, "venue.country", Rule::CountryCode, "XX");
    let bad = set(case_opened(), "/lead", json!("XX"));
    only(&bad, "lead", Rule::CountryCode, "XX");
    let bad = set(milestone(seizure()), "/milestone/country", json!("XX"));
    only(&bad, "milestone.country", Rule::CountryCode, "XX");
    let bad = milestone(json!({"kind": "jit_agreement_signed", "countries": ["PT", "XX"]}));
    only(&bad, "milestone.countries[1]", Rule::CountryCode, "XX");
}

#[test]
fn lower_case_country_codes_are_accepted_and_normalised() {
    let event = accepted(&set(
        set(delivered(), "/beneficiaries/0", json!("gh")),
        "/venue/country",
        json!("gh"),
    ));
    let Payload::Fact(Fact::ActivityDelivered(a)) = &event.payload else {
        panic!("not an ActivityDelivered: {event:?}");
    };
    let gh = CountryCode::parse("GH").expect("GH");
    assert_eq!(a.beneficiaries.first(), Some(&gh));
    assert_eq!(a.beneficiaries[0].as_str(), "GH");
    assert_eq!(
        a.venue,
        Venue::Place {
            city: "Accra".into(),
            country: gh
        }
    );
}

#[test]
fn duplicate_country() {
    let bad = set(delivered(), "/beneficiaries/3", json!("GH"));
    only(&bad, "beneficiaries[3]", Rule::DuplicateCountry, "GH");
    let bad = set(case_opened(), "/countries", json!(["PT", "GW", "pt"]));
    only(&bad, "countries[2]", Rule::DuplicateCountry, "PT");
}

#[test]
fn beneficiary_also_other() {
    let bad = set(delivered(), "/other_countries/2", json!("NG"));
    only(&bad, "other_countries[2]", Rule::BeneficiaryAlsoOther, "NG");
}

#[test]
fn too_few_countries() {
    for kind in ["investigative_case_forum", "working_group"] {
        let bad = set(
            set(
                set(delivered(), "/kind", json!(kind)),
                "/beneficiaries",
                json!(["GH"]),
            ),
            "/other_countries",
            json!([]),
        );
        only(&bad, "beneficiaries", Rule::TooFewCountries, kind);
        let bad = set(
            set(scheduled(), "/kind", json!(kind)),
            "/beneficiaries",
            json!(["GH"]),
        );
        only(&bad, "beneficiaries", Rule::TooFewCountries, kind);
    }
    let bad = set(meeting(), "/kind", json!("operational_coordination"));
    only(
        &bad,
        "countries",
        Rule::TooFewCountries,
        "operational_coordination",
    );
    let bad = set(
        set(case_opened(), "/countries", json!(["PT"])),
        "/lead",
        json!("PT"),
    );
    only(&bad, "countries", Rule::TooFewCountries, "a case");
    // A forum with one beneficiary and one other country involves two.
    accepted(&set(
        set(delivered(), "/beneficiaries", json!(["GH"])),
        "/other_countries",
        json!(["ES"]),
    ));
    // The other kinds need no second country.
    accepted(&set(
        set(delivered(), "/kind", json!("training")),
        "/other_countries",
        json!([]),
    ));
}

#[test]
fn lead_not_in_case() {
    let bad = set(case_opened(), "/lead", json!("ES"));
    only(&bad, "lead", Rule::LeadNotInCase, "ES");
}

// ---------------------------------------------------------------------------------------------
// Participants.

#[test]
fn participants_total_out_of_range() {
    let bad = set(delivered(), "/participants/total", json!(0));
    only(&bad, "participants.total", Rule::ParticipantsTotal, "0");
    let bad = set(delivered(), "/participants/total", json!(100_001));
    only(
        &bad,
        "participants.total",
        Rule::ParticipantsTotal,
        "100001",
    );
    let bad = set(meeting(), "/participants", json!({"total": 0}));
    only(&bad, "participants.total", Rule::ParticipantsTotal, "0");
    accepted(&set(delivered(), "/participants/total", json!(100_000)));
    accepted(&set(delivered(), "/participants/total", json!(1)));
}

#[test]
fn participants_breakdown() {
    let bad = set(
        delivered(),
        "/participants",
        json!({"total": 31, "women": 32}),
    );
    only(
        &bad,
        "participants.women",
        Rule::ParticipantsBreakdown,
        "32",
    );
    let bad = set(
        delivered(),
        "/participants",
        json!({"total": 31, "men": 40}),
    );
    only(&bad, "participants.men", Rule::ParticipantsBreakdown, "40");
    // One more than the total, at the boundary.
    let bad = set(
        delivered(),
        "/participants",
        json!({"total": 31, "women": 16, "men": 16}),
    );
    let v = only(&bad, "participants", Rule::ParticipantsBreakdown, "16");
    assert!(v.value.contains("31"), "{v:?}");
    // Each may equal the total.
    accepted(&set(
        delivered(),
        "/participants",
        json!({"total": 31, "women": 31, "men": 0}),
    ));
    accepted(&set(
        delivered(),
        "/participants",
        json!({"total": 31, "women": 11, "men": 20}),
    ));
}

// ---------------------------------------------------------------------------------------------
// Texts.

#[test]
fn empty_text() {
    let bad = set(delivered(), "/title", json!(""));
    only(&bad, "title", Rule::EmptyText, "\"\"");
    let bad = set(delivered(), "/title", json!("   "));
    only(&bad, "title", Rule::EmptyText, "\"   \"");
    let bad = set(changed(), "/reason", json!(""));
    only(&bad, "reason", Rule::EmptyText, "\"\"");
    let bad = set(delivered(), "/venue/city", json!(""));
    only(&bad, "venue.city", Rule::EmptyText, "\"\"");
    let bad = set(delivered(), "/recorded_by", json!(""));
    only(&bad, "recorded_by", Rule::EmptyText, "\"\"");
}

#[test]
fn text_too_long() {
    let bad = set(delivered(), "/title", json!("T".repeat(301)));
    only(&bad, "title", Rule::TextTooLong, "301");
    accepted(&set(delivered(), "/title", json!("é".repeat(300))));
    let bad = set(changed(), "/reason", json!("r".repeat(2001)));
    only(&bad, "reason", Rule::TextTooLong, "2001");
    accepted(&set(changed(), "/reason", json!("r".repeat(2000))));
    let bad = set(
        corrected(payload_only(meeting())),
        "/reason",
        json!("r".repeat(2001)),
    );
    only(&bad, "reason", Rule::TextTooLong, "2001");
    let bad = set(delivered(), "/recorded_by", json!("s".repeat(65)));
    only(&bad, "recorded_by", Rule::TextTooLong, "65");
}

#[test]
fn control_character() {
    let bad = set(delivered(), "/title", json!("Accra\u{7} forum"));
    only(&bad, "title", Rule::ControlCharacter, "\\u{7}");
    let bad = set(delivered(), "/title", json!("Accra\nforum"));
    only(&bad, "title", Rule::ControlCharacter, "\\u{a}");
    let bad = set(case_opened(), "/codename", json!("LISBON\u{85}"));
    only(&bad, "codename", Rule::ControlCharacter, "\\u{85}");
}

#[test]
fn a_text_of_invisible_characters_is_empty() {
    let bad = set(delivered(), "/title", json!("\u{200b}\u{200b}\u{200b}"));
    only(&bad, "title", Rule::EmptyText, "\\u{200b}");
    // White space, a byte-order mark and a Hangul filler (a default-ignorable letter).
    let bad = set(changed(), "/reason", json!(" \u{feff}\u{3164}\u{a0}"));
    only(&bad, "reason", Rule::EmptyText, "\\u{feff}");
    let bad = set(case_opened(), "/codename", json!("\u{fe0f}"));
    let all = violations(&bad);
    assert!(
        all.iter()
            .any(|v| v.rule == Rule::EmptyText && v.field == "codename"),
        "{all:#?}"
    );
    // One visible character is enough.
    accepted(&set(delivered(), "/title", json!("\u{200b}A\u{200b}")));
}

#[test]
fn format_character_in_an_identifier() {
    let bad = set(delivered(), "/recorded_by", json!("staff\u{200d}.vienna"));
    only(
        &bad,
        "recorded_by",
        Rule::FormatCharacter,
        "U+200D ZERO WIDTH JOINER at character 6",
    );
    let bad = set(delivered(), "/recorded_by", json!("\u{feff}staff.vienna"));
    only(
        &bad,
        "recorded_by",
        Rule::FormatCharacter,
        "U+FEFF ZERO WIDTH NO-BREAK SPACE at character 1",
    );
    let bad = set(case_opened(), "/codename", json!("LISBON\u{ad}-BISSAU"));
    only(
        &bad,
        "codename",
        Rule::FormatCharacter,
        "U+00AD SOFT HYPHEN at character 7",
    );
    // A partner slug is ASCII already.
    let bad = set(partner(), "/partner", json!("inter\u{200b}pol"));
    only(&bad, "partner", Rule::InvalidSlug, "inter");
    // Other texts keep format characters that are not bidirectional controls: Persian needs
    // U+200C ZERO WIDTH NON-JOINER, emoji sequences U+200D.
    accepted(&set(
        delivered(),
        "/title",
        json!("\u{06a9}\u{0627}\u{0631}\u{06af}\u{0627}\u{0647}\u{200c}\u{0647}\u{0627}"),
    ));
    accepted(&set(
        changed(),
        "/reason",
        json!("Focal point vacant \u{1f469}\u{200d}\u{2696}\u{fe0f}"),
    ));
}

#[test]
fn bidi_control_in_any_text() {
    let reversed = json!("Accra\u{202e}murof");
    let expected = "U+202E RIGHT-TO-LEFT OVERRIDE at character 6";
    let correction = corrected(payload_only(meeting()));
    for (event, pointer, field) in [
        (delivered(), "/title", "title"),
        (delivered(), "/venue/city", "venue.city"),
        (delivered(), "/recorded_by", "recorded_by"),
        (case_opened(), "/codename", "codename"),
        (partner(), "/name", "name"),
        (changed(), "/reason", "reason"),
        (correction.clone(), "/reason", "reason"),
        (correction, "/replacement/title", "replacement.title"),
    ] {
        // In an identifier it is reported once, as a bidirectional control.
        only(
            &set(event, pointer, reversed.clone()),
            field,
            Rule::BidiControl,
            expected,
        );
    }
    let bad = add(
        delivered(),
        "",
        "source",
        json!("report \u{2067}12\u{2069}"),
    );
    only(
        &bad,
        "source",
        Rule::BidiControl,
        "U+2067 RIGHT-TO-LEFT ISOLATE at character 8",
    );
    for c in [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
        '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ] {
        let bad = set(delivered(), "/title", json!(format!("Accra {c}forum")));
        let code = format!("U+{:04X}", u32::from(c));
        only(&bad, "title", Rule::BidiControl, &code);
    }
}

// ---------------------------------------------------------------------------------------------
// Milestones.

#[test]
fn quantity_not_positive() {
    for q in [json!(0), json!(-5.5), json!(0.0)] {
        let bad = set(milestone(seizure()), "/milestone/quantity_kg", q.clone());
        only(
            &bad,
            "milestone.quantity_kg",
            Rule::NotPositive,
            &q.as_f64().expect("number").to_string(),
        );
    }
    let frozen = json!({"kind": "assets_frozen", "country": "PT", "amount": 0, "currency": "EUR"});
    only(
        &milestone(frozen),
        "milestone.amount",
        Rule::NotPositive,
        "0",
    );
    let event = accepted(&set(
        milestone(seizure()),
        "/milestone/quantity_kg",
        json!(0.001),
    ));
    let Payload::Fact(Fact::CaseMilestoneRecorded(m)) = &event.payload else {
        panic!("not a milestone: {event:?}");
    };
    assert!(
        matches!(m.milestone, Milestone::Seizure { quantity_kg, .. } if quantity_kg == 0.001),
        "{m:?}"
    );
}

#[test]
fn count_below_one() {
    for kind in ["arrests", "indictment", "conviction"] {
        let bad = milestone(json!({"kind": kind, "country": "GW", "count": 0}));
        only(&bad, "milestone.count", Rule::CountBelowOne, "0");
        accepted(&milestone(
            json!({"kind": kind, "country": "GW", "count": 1}),
        ));
    }
}

#[test]
fn currency_code() {
    for code in ["ZZZ", "EURO"] {
        let bad = milestone(json!({
            "kind": "assets_frozen", "country": "PT", "amount": 10.5, "currency": code
        }));
        only(&bad, "milestone.currency", Rule::CurrencyCode, code);
    }
    accepted(&milestone(json!({
        "kind": "assets_frozen", "country": "PT", "amount": 10.5, "currency": "xof"
    })));
}

#[test]
fn same_country_request() {
    let bad = milestone(json!({"kind": "mla_request_sent", "from": "PT", "to": "PT"}));
    only(&bad, "milestone.to", Rule::SameCountry, "PT");
}

// ---------------------------------------------------------------------------------------------
// Partners.

#[test]
fn invalid_slug() {
    for slug in ["Interpol", "transparency international", "-unodc", ""] {
        let bad = set(partner(), "/partner", json!(slug));
        only(&bad, "partner", Rule::InvalidSlug, slug);
    }
    accepted(&set(
        partner(),
        "/partner",
        json!("transparency-international"),
    ));
}

#[test]
fn duplicate_role() {
    let bad = set(
        partner(),
        "/roles",
        json!(["implementing", "funding", "implementing"]),
    );
    only(&bad, "roles[2]", Rule::DuplicateItem, "implementing");
}

// ---------------------------------------------------------------------------------------------
// Structure.

#[test]
fn unknown_field_is_rejected_by_name() {
    let bad = add(
        remove(delivered(), "", "title"),
        "",
        "titel",
        json!("Accra"),
    );
    only(&bad, "titel", Rule::UnknownField, "titel");
    let bad = add(delivered(), "", "titel", json!("Accra"));
    only(&bad, "titel", Rule::UnknownField, "titel");
    let bad = add(delivered(), "/venue", "cty", json!("Accra"));
    only(&bad, "venue.cty", Rule::UnknownField, "cty");
    let bad = add(delivered(), "/participants", "woman", json!(5));
    only(&bad, "participants.woman", Rule::UnknownField, "woman");
    let bad = add(milestone(seizure()), "/milestone", "qty", json!(1));
    only(&bad, "milestone.qty", Rule::UnknownField, "qty");
    // Fields the ledger writes are not staff input.
    let bad = add(delivered(), "", "seq", json!(3));
    only(&bad, "seq", Rule::UnknownField, "seq");
}

#[test]
fn unknown_field_inside_a_replacement() {
    let bad = corrected(add(payload_only(meeting()), "", "titel", json!("x")));
    only(&bad, "replacement.titel", Rule::UnknownField, "titel");
}

#[test]
fn missing_field() {
    let bad = remove(delivered(), "", "title");
    only(&bad, "title", Rule::MissingField, "absent");
    let bad = remove(delivered(), "", "recorded_by");
    only(&bad, "recorded_by", Rule::MissingField, "absent");
    let bad = remove(delivered(), "/venue", "city");
    only(&bad, "venue.city", Rule::MissingField, "absent");
    let bad = remove(milestone(seizure()), "/milestone", "quantity_kg");
    only(&bad, "milestone.quantity_kg", Rule::MissingField, "absent");
    let bad = remove(delivered(), "", "type");
    only(&bad, "type", Rule::MissingField, "absent");
}

#[test]
fn unknown_type() {
    let bad = set(delivered(), "/type", json!("ActivityDelivred"));
    only(&bad, "type", Rule::UnknownType, "ActivityDelivred");
    let bad = set(delivered(), "/type", json!("activity_delivered"));
    only(&bad, "type", Rule::UnknownType, "activity_delivered");
}

#[test]
fn invalid_date() {
    let bad = set(delivered(), "/start", json!("2019-02-30"));
    only(&bad, "start", Rule::InvalidDate, "2019-02-30");
    let bad = set(closed(), "/closed_on", json!("31/03/2025"));
    only(&bad, "closed_on", Rule::InvalidDate, "31/03/2025");
    let bad = set(milestone(seizure()), "/on", json!("2024-13-01"));
    only(&bad, "on", Rule::InvalidDate, "2024-13-01");
}

#[test]
fn invalid_enum_value() {
    let bad = set(delivered(), "/kind", json!("seminar"));
    only(&bad, "kind", Rule::InvalidValue, "seminar");
    let bad = set(delivered(), "/venue", json!("online"));
    only(&bad, "venue", Rule::InvalidValue, "online");
}

#[test]
fn syntax_error_names_its_line_and_does_not_hide_other_lines() {
    let truncated = &delivered().to_string()[..60];
    let bad_case = set(case_opened(), "/lead", json!("ES"));
    let text = format!("{}\n\n{truncated}\n{bad_case}\n", neighbour(1));
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("a truncated line");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].rule, Rule::Syntax, "{errors:#?}");
    assert_eq!(
        errors[0].position,
        Some(Position { index: 1, line: 3 }),
        "{errors:#?}"
    );
    assert_eq!(errors[0].event_id, None);
    assert_eq!(errors[1].rule, Rule::LeadNotInCase, "{errors:#?}");
    assert_eq!(errors[1].position, Some(Position { index: 2, line: 4 }));
}

#[test]
fn syntax_error_in_an_array_and_in_an_empty_text() {
    let text = format!("[\n{},\n{}\n", neighbour(1), neighbour(2));
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("unterminated array");
    assert!(
        errors.len() == 1 && errors[0].rule == Rule::Syntax,
        "{errors:#?}"
    );
    for empty in ["", "  \n\n"] {
        let errors = parse_text(empty, Mode::Staff, today()).expect_err("empty text");
        assert!(
            errors.len() == 1 && errors[0].rule == Rule::Syntax,
            "{empty:?}: {errors:#?}"
        );
    }
}

#[test]
fn not_an_object() {
    let text = format!("{}\n\n[1, 2]\n", neighbour(1));
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("an array line");
    assert!(
        errors.len() == 1
            && errors[0].rule == Rule::NotAnObject
            && errors[0].position == Some(Position { index: 1, line: 3 }),
        "{errors:#?}"
    );
}

#[test]
fn duplicate_event_id_in_one_file() {
    let first = delivered();
    let second = set(meeting(), "/event_id", json!(ID));
    let text = format!("{first}\n\n{second}\n");
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("duplicate ids");
    let [v] = errors.as_slice() else {
        panic!("expected one violation, got {errors:#?}");
    };
    assert_eq!(v.rule, Rule::DuplicateEventId);
    assert_eq!(v.field, "event_id");
    assert_eq!(v.position, Some(Position { index: 1, line: 3 }));
    assert_eq!(v.event_id, Some(id()));
    assert!(v.value.contains(ID), "{v:?}");
}

#[test]
fn nil_event_id() {
    let bad = set(delivered(), "/event_id", json!(Uuid::nil().to_string()));
    let errors = violations(&bad);
    assert!(
        errors.len() == 1 && errors[0].rule == Rule::NilId && errors[0].field == "event_id",
        "{errors:#?}"
    );
}

#[test]
fn nil_entity_ids() {
    // Entity ids name streams: a nil one would gather unrelated events into `activity/0000…`.
    let nil = json!(Uuid::nil().to_string());
    let nil_text = Uuid::nil().to_string();
    for (event, field) in [
        (meeting(), "meeting_id"),
        (scheduled(), "activity_id"),
        (delivered(), "activity_id"),
        (case_opened(), "case_id"),
        (milestone(seizure()), "case_id"),
        (closed(), "case_id"),
    ] {
        let bad = set(event, &format!("/{field}"), nil.clone());
        only(&bad, field, Rule::NilId, &nil_text);
    }
    let bad = corrected(set(payload_only(delivered()), "/activity_id", nil.clone()));
    only(&bad, "replacement.activity_id", Rule::NilId, &nil_text);
}

#[test]
fn nil_duplicate_of() {
    let bad = json!({
        "type": "EventRetracted",
        "recorded_by": "staff.vienna",
        "event_id": ID,
        "target": "0190f0a1-7c2e-7a10-8b3e-dddddddddddd",
        "reason": "duplicate",
        "duplicate_of": Uuid::nil().to_string()
    });
    only(&bad, "duplicate_of", Rule::NilId, &Uuid::nil().to_string());
}

#[test]
fn replacement_type() {
    let bad = corrected(json!({"titel": "Accra", "start": "2019-10-29"}));
    only(&bad, "replacement", Rule::ReplacementType, "titel");
    let bad = corrected(json!({}));
    only(&bad, "replacement", Rule::ReplacementType, "[]");
}

#[test]
fn an_event_text_over_256_kib_is_refused_as_too_large() {
    // The limit bounds what one event may cost to parse and store.
    // The text is refused before it is read, so the event id is not known; the position is.
    let bad = add(delivered(), "", "source", json!("s".repeat(256 * 1024)));
    let all = violations(&bad);
    let [v] = all.as_slice() else {
        panic!("expected one violation, got {all:#?}");
    };
    assert_eq!(
        (v.position, v.rule, v.field.as_str()),
        (Some(Position { index: 1, line: 3 }), Rule::TooLarge, ""),
        "{v:?}"
    );
    assert!(v.value.contains("262144"), "names the limit: {v:?}");
    // Just under the limit, the event is parsed (and its overlong source reported).
    let bad = add(delivered(), "", "source", json!("s".repeat(200 * 1024)));
    only(&bad, "source", Rule::TextTooLong, "204800");
}

#[test]
fn rule_names_are_stable_snake_case() {
    for (rule, name) in [
        (Rule::StartAfterEnd, "start_after_end"),
        (Rule::SpanTooLong, "span_too_long"),
        (Rule::DateTooEarly, "date_too_early"),
        (Rule::DateInFuture, "date_in_future"),
        (Rule::CountryCode, "country_code"),
        (Rule::DuplicateCountry, "duplicate_country"),
        (Rule::BeneficiaryAlsoOther, "beneficiary_also_other"),
        (Rule::ParticipantsTotal, "participants_total"),
        (Rule::ParticipantsBreakdown, "participants_breakdown"),
        (Rule::EmptyText, "empty_text"),
        (Rule::TextTooLong, "text_too_long"),
        (Rule::ControlCharacter, "control_character"),
        (Rule::TooFewCountries, "too_few_countries"),
        (Rule::LeadNotInCase, "lead_not_in_case"),
        (Rule::NotPositive, "not_positive"),
        (Rule::CountBelowOne, "count_below_one"),
        (Rule::InvalidSlug, "invalid_slug"),
        (Rule::CurrencyCode, "currency_code"),
        (Rule::UnknownField, "unknown_field"),
        (Rule::MissingField, "missing_field"),
        (Rule::UnknownType, "unknown_type"),
        (Rule::InvalidDate, "invalid_date"),
        (Rule::Syntax, "syntax"),
        (Rule::DuplicateEventId, "duplicate_event_id"),
        (Rule::ReplacementType, "replacement_type"),
        (Rule::NilId, "nil_id"),
        (Rule::TooManyEvents, "too_many_events"),
        (Rule::BidiControl, "bidi_control"),
        (Rule::FormatCharacter, "format_character"),
    ] {
        assert_eq!(rule.as_str(), name);
        assert_eq!(
            serde_json::to_value(rule).expect("json"),
            json!(name),
            "{rule:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting.

#[test]
fn all_violations_of_one_event_are_reported_together() {
    let bad = set(delivered(), "/end", json!("2019-10-28"));
    let bad = set(bad, "/participants/total", json!(0));
    let bad = set(bad, "/title", json!(""));
    let bad = set(bad, "/other_countries/0", json!("GH"));
    let errors = violations(&bad);
    let mut found: Vec<(&str, Rule)> = errors.iter().map(|v| (v.field.as_str(), v.rule)).collect();
    found.sort();
    let mut expected = vec![
        ("start", Rule::StartAfterEnd),
        ("participants.total", Rule::ParticipantsTotal),
        ("title", Rule::EmptyText),
        ("other_countries[0]", Rule::BeneficiaryAlsoOther),
    ];
    expected.sort();
    assert_eq!(found, expected, "{errors:#?}");
    for v in &errors {
        assert_eq!(v.position, Some(Position { index: 1, line: 3 }), "{v:?}");
        assert_eq!(v.event_id, Some(id()), "{v:?}");
    }
}

#[test]
fn violations_of_several_events_are_all_reported() {
    let text = format!(
        "{}\n{}\n{}\n",
        set(delivered(), "/title", json!("")),
        neighbour(1),
        set(
            set(case_opened(), "/lead", json!("ES")),
            "/event_id",
            json!("0190f0a1-7c2e-7a10-8b3e-000000000009")
        )
    );
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("two bad events");
    let found: Vec<(Option<Position>, Rule)> =
        errors.iter().map(|v| (v.position, v.rule)).collect();
    assert_eq!(
        found,
        vec![
            (Some(Position { index: 0, line: 1 }), Rule::EmptyText),
            (Some(Position { index: 2, line: 3 }), Rule::LeadNotInCase),
        ]
    );
}

#[test]
fn violation_display_names_line_event_field_rule_and_value() {
    let bad = set(delivered(), "/end", json!("2019-10-28"));
    let v = only(&bad, "start", Rule::StartAfterEnd, "2019-10-29");
    let text = v.to_string();
    let prefix = format!("line 3 (event {ID}): start: start_after_end (");
    assert!(
        text.starts_with(&prefix),
        "{text:?} should start with {prefix:?}"
    );
    assert!(
        text.ends_with(')') && text.contains("2019-10-29") && text.contains("2019-10-28"),
        "{text:?}"
    );
}

#[test]
fn a_json_array_reports_the_line_of_its_second_element() {
    let first = serde_json::to_string_pretty(&neighbour_value(1)).expect("json");
    let second = set(delivered(), "/end", json!("2019-10-28"));
    // `[` on line 1, the first element on lines 2..=8, the second element from line 9.
    let text = format!("[\n{first},\n{second}\n]\n");
    let first_lines = first.lines().count();
    let expected_line = 2 + first_lines;
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("bad second element");
    let [v] = errors.as_slice() else {
        panic!("expected one violation, got {errors:#?}");
    };
    assert_eq!(
        v.position,
        Some(Position {
            index: 1,
            line: expected_line
        }),
        "{text}\n{v:?}"
    );
    assert_eq!(v.rule, Rule::StartAfterEnd);

    // Without the error, both events parse with their positions.
    let text = format!("[\n{first},\n{}\n]\n", delivered());
    let events = parse_text(&text, Mode::Staff, today()).expect("valid array");
    let positions: Vec<Position> = events.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        vec![
            Position { index: 0, line: 2 },
            Position {
                index: 1,
                line: expected_line
            }
        ]
    );
}

fn neighbour_value(n: u8) -> Value {
    serde_json::from_str(&neighbour(n)).expect("json")
}

#[test]
fn a_single_pretty_printed_object_parses() {
    let pretty = serde_json::to_string_pretty(&delivered()).expect("json");
    assert!(pretty.lines().count() > 10, "{pretty}");
    let text = format!("\n\n{pretty}\n");
    let events = parse_text(&text, Mode::Staff, today()).expect("one pretty object");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].position, Position { index: 0, line: 3 });
    assert_eq!(events[0].event.event_id, Some(id()));
    assert_eq!(events[0].event, accepted(&delivered()));

    // A violation in it names the object's first line.
    let bad = serde_json::to_string_pretty(&set(delivered(), "/title", json!(""))).expect("json");
    let errors = parse_text(&format!("\n{bad}"), Mode::Staff, today()).expect_err("empty title");
    assert!(
        errors.len() == 1 && errors[0].position == Some(Position { index: 0, line: 2 }),
        "{errors:#?}"
    );
}

#[test]
fn crlf_line_endings_keep_line_numbers() {
    let bad = set(case_opened(), "/lead", json!("ES"));
    let text = format!("{}\r\n\r\n{bad}\r\n", neighbour(1));
    let errors = parse_text(&text, Mode::Staff, today()).expect_err("bad lead");
    assert!(
        errors.len() == 1
            && errors[0].rule == Rule::LeadNotInCase
            && errors[0].position == Some(Position { index: 1, line: 3 }),
        "{errors:#?}"
    );
}

#[test]
fn a_field_given_twice_is_refused_not_silently_dropped() {
    let text = r#"{"type":"CountryJoined","recorded_by":"t","country":"GH","joined_on":"2016-07-21","participation":"beneficiary","country":"CV"}"#;
    let errors =
        parse_text(text, Mode::Staff, today()).expect_err("a duplicate key must be refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].rule, errors[0].field.as_str()),
        (Rule::DuplicateField, "country")
    );
    let nested = r#"{"type":"MeetingHeld","recorded_by":"t","meeting_id":"0190f0a1-7c2e-7a10-8b3e-000000000001","kind":"network_meeting","title":"t","start":"2019-01-01","end":"2019-01-01","venue":{"city":"A","city":"B","country":"GH"},"countries":["GH"]}"#;
    let errors = parse_text(nested, Mode::Staff, today())
        .expect_err("a nested duplicate key must be refused");
    assert_eq!(
        (errors[0].rule, errors[0].field.as_str()),
        (Rule::DuplicateField, "venue.city")
    );
}

#[test]
fn a_byte_order_mark_is_ignored_and_a_broken_first_line_hides_nothing() {
    let line = r#"{"type":"CountryJoined","recorded_by":"t","country":"GH","joined_on":"2016-07-21","participation":"beneficiary"}"#;
    let parsed = parse_text(&format!("\u{feff}{line}\n"), Mode::Staff, today())
        .expect("a BOM is not an error");
    assert_eq!(parsed.len(), 1);
    let broken = format!(
        "{{\"type\": oops}}\n{line}\n{}\n",
        line.replace("\"GH\"", "\"QQ\"")
    );
    let errors = parse_text(&broken, Mode::Staff, today()).expect_err("two bad lines");
    let lines: Vec<usize> = errors
        .iter()
        .filter_map(|v| v.position.map(|p| p.line))
        .collect();
    assert_eq!(lines, vec![1, 3], "{errors:?}");
}
