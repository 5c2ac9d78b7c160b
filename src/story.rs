//! The CRIMJUST story of domain.md as events with fixed ids: what `coopledger demo` records.
//!
//! Dates and figures come from the seed and domain.md: the first West African countries (July
//! 2016), INTERPOL from 30 Aug 2016, the Vienna bilateral briefings of 17–25 Aug 2017, the Rio
//! network meeting, the steering committees of Lyon and Cartagena, the Lagos workshop of
//! 16–18 Jul 2018 and the correction of its participant count, Bolivia joining in November 2018,
//! the 2019 investigative case forums, Operation Lionfish III and the Portugal–Guinea-Bissau case
//! of 2024. Where the sources give no exact day or no outcome, the `source` field says the value
//! is illustrative.

use proto_events::staff::{Mode, parse_text};
use proto_events::values::today_utc;
use proto_events::{CountryCode, NewEvent, Violation};
use serde_json::{Value, json};
use uuid::Uuid;

/// A fixed id for story event `n` (UUIDv7 layout, stable across runs).
#[must_use]
pub fn story_id(n: u16) -> Uuid {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(b"crimjust");
    random[8..].copy_from_slice(&n.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(1_454_284_800_000 + u64::from(n), &random).into_uuid()
}

const SEED: &str = "UNODC CRIMJUST news, 17-25 August 2017 (shared/seeds)";
const DOMAIN: &str = "coopledger domain reference (shared/docs/domain.md)";
const ILLUSTRATIVE: &str = "illustrative: day or figure not given by the sources";

/// Countries the story makes participants (the synthetic programme must not join them again).
pub const JOINED: [&str; 15] = [
    "CV", "GH", "AR", "BR", "CO", "DO", "EC", "PA", "PE", "GW", "NG", "BO", "ES", "PT", "BE",
];

fn event(n: u16, source: &str, mut value: Value) -> Value {
    value["event_id"] = json!(story_id(n));
    value["recorded_by"] = json!("demo.crimjust");
    value["source"] = json!(source);
    value
}

#[allow(clippy::too_many_arguments)]
fn meeting(
    n: u16,
    kind: &str,
    title: &str,
    start: &str,
    end: &str,
    city: &str,
    cc: &str,
    countries: &[&str],
) -> Value {
    event(
        n,
        SEED,
        json!({"type": "MeetingHeld", "meeting_id": story_id(1000 + n), "kind": kind,
        "title": title, "start": start, "end": end, "venue": {"city": city, "country": cc},
        "countries": countries}),
    )
}

#[allow(clippy::too_many_arguments)]
fn forum(
    n: u16,
    title: &str,
    start: &str,
    end: &str,
    city: &str,
    cc: &str,
    beneficiaries: &[&str],
    others: &[&str],
    total: u32,
) -> Value {
    event(
        n,
        DOMAIN,
        json!({"type": "ActivityDelivered", "activity_id": story_id(1000 + n),
        "kind": "investigative_case_forum", "title": title, "pillar": "interregional_cooperation",
        "start": start, "end": end, "venue": {"city": city, "country": cc},
        "beneficiaries": beneficiaries, "other_countries": others,
        "participants": {"total": total}, "institutions": ["police", "prosecution"]}),
    )
}

/// The story's events, in the order they are recorded.
///
/// # Errors
/// Never in practice (the story is valid); the violations if it were not.
pub fn events() -> Result<Vec<NewEvent>, Vec<Violation>> {
    let mut v = vec![
        event(
            1,
            DOMAIN,
            json!({"type": "PartnerRegistered", "partner": "eu", "name": "European Union, Cocaine Route Programme", "roles": ["funding"], "registered_on": "2016-02-01"}),
        ),
        event(
            2,
            DOMAIN,
            json!({"type": "PartnerRegistered", "partner": "unodc", "name": "United Nations Office on Drugs and Crime", "roles": ["accountable", "implementing"], "registered_on": "2016-02-01"}),
        ),
        event(
            3,
            DOMAIN,
            json!({"type": "PartnerRegistered", "partner": "transparency-international", "name": "Transparency International", "roles": ["implementing"], "registered_on": "2016-02-01"}),
        ),
        event(
            4,
            DOMAIN,
            json!({"type": "PartnerRegistered", "partner": "interpol", "name": "INTERPOL", "roles": ["implementing"], "registered_on": "2016-08-30"}),
        ),
    ];
    let joins: [(&str, &str, &str); 15] = [
        ("AR", "2016-02-15", "beneficiary"),
        ("BR", "2016-02-15", "beneficiary"),
        ("CO", "2016-02-15", "beneficiary"),
        ("DO", "2016-02-15", "beneficiary"),
        ("EC", "2016-02-15", "beneficiary"),
        ("PA", "2016-02-15", "beneficiary"),
        ("PE", "2016-02-15", "beneficiary"),
        ("ES", "2016-02-15", "partner"),
        ("PT", "2016-02-15", "partner"),
        ("BE", "2016-02-15", "partner"),
        ("CV", "2016-07-21", "beneficiary"),
        ("GH", "2016-07-21", "beneficiary"),
        ("GW", "2017-01-16", "beneficiary"),
        ("NG", "2017-01-16", "beneficiary"),
        ("BO", "2018-11-15", "beneficiary"),
    ];
    for (i, (cc, on, participation)) in (10u16..).zip(joins) {
        let source = if matches!(cc, "CV" | "GH" | "BO") {
            DOMAIN
        } else {
            ILLUSTRATIVE
        };
        v.push(event(i, source, json!({"type": "CountryJoined", "country": cc, "joined_on": on, "participation": participation})));
    }
    let briefings = [
        ("AR", "Argentina", "2017-08-17"),
        ("BR", "Brazil", "2017-08-18"),
        ("CO", "Colombia", "2017-08-21"),
        ("EC", "Ecuador", "2017-08-22"),
        ("DO", "the Dominican Republic", "2017-08-24"),
        ("PA", "Panama", "2017-08-25"),
    ];
    for (i, (cc, name, day)) in (40u16..).zip(briefings) {
        v.push(meeting(
            i,
            "bilateral_briefing",
            &format!("Briefing of the Permanent Mission of {name} to UN Vienna"),
            day,
            day,
            "Vienna",
            "AT",
            &[cc],
        ));
    }
    let lac = ["AR", "BR", "CO", "DO", "EC", "PA", "PE"];
    let west_africa = ["CV", "GH", "GW", "NG"];
    let mut rio: Vec<&str> = lac.to_vec();
    rio.extend(["BO", "CL", "PY", "UY", "CR"]);
    rio.extend(west_africa);
    v.push(meeting(
        50,
        "network_meeting",
        "Inter-regional network meeting",
        "2017-09-12",
        "2017-09-14",
        "Rio de Janeiro",
        "BR",
        &rio,
    ));
    let mut committee: Vec<&str> = lac.to_vec();
    committee.extend(west_africa);
    v.push(meeting(
        51,
        "steering_committee",
        "Steering committee",
        "2018-03-07",
        "2018-03-08",
        "Lyon",
        "FR",
        &committee,
    ));
    committee.push("BO");
    v.push(meeting(
        52,
        "steering_committee",
        "Steering committee",
        "2019-06-21",
        "2019-06-21",
        "Cartagena",
        "CO",
        &committee,
    ));
    v.push(event(60, DOMAIN, json!({"type": "ActivityDelivered", "activity_id": story_id(1060), "kind": "workshop",
        "title": "Workshop on financial investigations of cocaine trafficking", "pillar": "capacity_building",
        "start": "2018-07-16", "end": "2018-07-18", "venue": {"city": "Lagos", "country": "NG"},
        "beneficiaries": ["NG", "GH", "CV"], "participants": {"total": 30, "women": 5},
        "institutions": ["police", "anti_drug_agency", "prosecution"]})));
    v.push(event(61, "second source: 20 % of the 30 participants were women", json!({"type": "EventCorrected", "target": story_id(60),
        "reason": "A second source reports 20 % women among the 30 participants (6, not 5).",
        "replacement": {"activity_id": story_id(1060), "kind": "workshop",
            "title": "Workshop on financial investigations of cocaine trafficking", "pillar": "capacity_building",
            "start": "2018-07-16", "end": "2018-07-18", "venue": {"city": "Lagos", "country": "NG"},
            "beneficiaries": ["NG", "GH", "CV"], "participants": {"total": 30, "women": 6},
            "institutions": ["police", "anti_drug_agency", "prosecution"]}})));
    v.push(forum(
        70,
        "Investigative case forum, Madrid",
        "2019-10-08",
        "2019-10-10",
        "Madrid",
        "ES",
        &["EC"],
        &["ES"],
        18,
    ));
    v.push(forum(
        71,
        "Investigative case forum, Antwerp",
        "2019-10-15",
        "2019-10-17",
        "Antwerp",
        "BE",
        &["BO"],
        &["BE"],
        16,
    ));
    v.push(forum(
        72,
        "Investigative case forum, Accra",
        "2019-10-29",
        "2019-10-30",
        "Accra",
        "GH",
        &["GH", "NG", "CV", "GW", "GM"],
        &["BR", "ES", "PT", "ET"],
        31,
    ));
    v.push(forum(
        73,
        "Investigative case forum, Bogotá",
        "2019-11-19",
        "2019-11-21",
        "Bogotá",
        "CO",
        &["CO", "EC"],
        &["BE"],
        24,
    ));
    v.push(forum(
        74,
        "Investigative case forum, Lisbon",
        "2024-07-09",
        "2024-07-11",
        "Lisbon",
        "PT",
        &["GW"],
        &["PT"],
        20,
    ));
    let lionfish = story_id(1080);
    v.push(event(80, DOMAIN, json!({"type": "CaseOpened", "case_id": lionfish, "codename": "Operation Lionfish III",
        "case_type": "joint_investigation_team", "lead": "CO", "opened_on": "2017-03-01",
        "countries": ["AR", "BR", "CO", "DO", "EC", "PA", "PE", "CV", "GH", "GW", "NG", "ES", "PT"]})));
    v.push(event(81, DOMAIN, json!({"type": "CaseMilestoneRecorded", "case_id": lionfish, "on": "2017-03-31",
        "milestone": {"kind": "seizure", "country": "CO", "commodity": "cocaine", "quantity_kg": 25000}})));
    v.push(event(
        82,
        DOMAIN,
        json!({"type": "CaseMilestoneRecorded", "case_id": lionfish, "on": "2017-03-31",
        "milestone": {"kind": "arrests", "country": "CO", "count": 357}}),
    ));
    v.push(event(83, ILLUSTRATIVE, json!({"type": "CaseClosed", "case_id": lionfish, "closed_on": "2017-04-30", "outcome": "unknown"})));
    let bissau = story_id(1090);
    v.push(event(90, DOMAIN, json!({"type": "CaseOpened", "case_id": bissau, "codename": "Bissau airstrip",
        "case_type": "post_seizure_investigation", "countries": ["PT", "GW"], "lead": "GW", "opened_on": "2024-07-11"})));
    v.push(event(91, DOMAIN, json!({"type": "CaseMilestoneRecorded", "case_id": bissau, "on": "2024-09-11",
        "milestone": {"kind": "seizure", "country": "GW", "commodity": "cocaine", "quantity_kg": 2630}})));
    v.push(event(92, DOMAIN, json!({"type": "CaseCountryAdded", "case_id": bissau, "country": "VE", "added_on": "2024-09-11"})));
    v.push(event(
        93,
        ILLUSTRATIVE,
        json!({"type": "CaseMilestoneRecorded", "case_id": bissau, "on": "2024-09-12",
        "milestone": {"kind": "arrests", "country": "GW", "count": 5}}),
    ));
    v.push(event(
        94,
        ILLUSTRATIVE,
        json!({"type": "CaseMilestoneRecorded", "case_id": bissau, "on": "2024-10-02",
        "milestone": {"kind": "mla_request_sent", "from": "GW", "to": "PT"}}),
    ));
    v.push(event(
        95,
        ILLUSTRATIVE,
        json!({"type": "CaseMilestoneRecorded", "case_id": bissau, "on": "2025-03-14",
        "milestone": {"kind": "indictment", "country": "GW", "count": 5}}),
    ));
    v.push(event(
        96,
        ILLUSTRATIVE,
        json!({"type": "CaseMilestoneRecorded", "case_id": bissau, "on": "2025-09-30",
        "milestone": {"kind": "conviction", "country": "GW", "count": 4}}),
    ));
    v.push(event(97, ILLUSTRATIVE, json!({"type": "CaseClosed", "case_id": bissau, "closed_on": "2025-10-15", "outcome": "convicted"})));
    let text: String = v.iter().map(|e| format!("{e}\n")).collect();
    Ok(parse_text(&text, Mode::Staff, today_utc())?
        .into_iter()
        .map(|p| p.event)
        .collect())
}

/// The story's participants as codes.
#[must_use]
pub fn joined() -> Vec<CountryCode> {
    JOINED
        .iter()
        .filter_map(|c| CountryCode::parse(c))
        .collect()
}
