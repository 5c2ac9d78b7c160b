//! One realistic example of every event type, in the staff JSON form: the example row of the
//! spreadsheet templates and of `coopledger schema`. Each parses and passes every intrinsic
//! rule (tested), and uses every field of its type where the type allows it.

use serde_json::{Map, Value, json};

use crate::events::EventType;

/// The entity ids the examples use (an activity, a meeting, a case).
const ACTIVITY: &str = "0190f0a1-7c2e-7a10-8b3e-00000000a001";
const MEETING: &str = "0190f0a1-7c2e-7a10-8b3e-00000000d001";
const CASE: &str = "0190f0a1-7c2e-7a10-8b3e-00000000c001";
/// The event an example correction or retraction targets.
const TARGET: &str = "0190f0a1-7c2e-7a10-8b3e-000000000007";

/// The Accra training of the issue that asked for spreadsheets (a 3-day training for Ghana and
/// Nigeria police, 25 participants, 8 women), as a delivered activity's payload.
fn accra_training() -> Value {
    json!({
        "activity_id": ACTIVITY,
        "kind": "training",
        "title": "Financial investigations training, Accra",
        "pillar": "capacity_building",
        "start": "2026-03-03",
        "end": "2026-03-05",
        "venue": {"city": "Accra", "country": "GH"},
        "beneficiaries": ["GH", "NG"],
        "other_countries": [],
        "participants": {"total": 25, "women": 8, "men": 17},
        "institutions": ["police"]
    })
}

/// An example of `event_type`: `type`, `recorded_by` and the payload (no `event_id`).
#[must_use]
pub fn example(event_type: EventType) -> Map<String, Value> {
    let payload = match event_type {
        EventType::PartnerRegistered => json!({
            "partner": "interpol", "name": "INTERPOL", "roles": ["implementing"],
            "registered_on": "2016-08-30"
        }),
        EventType::CountryJoined => json!({
            "country": "GH", "joined_on": "2016-07-21", "participation": "beneficiary"
        }),
        EventType::ParticipationChanged => json!({
            "country": "CV", "changed_on": "2019-03-01", "participation": "associated",
            "reason": "Moved to associated status by the steering committee"
        }),
        EventType::MeetingHeld => json!({
            "meeting_id": MEETING, "kind": "steering_committee",
            "title": "Steering committee, Lyon", "start": "2018-03-07", "end": "2018-03-08",
            "venue": {"city": "Lyon", "country": "FR"}, "countries": ["CO", "GH", "ES"],
            "participants": {"total": 30, "women": 12}
        }),
        EventType::ActivityScheduled => json!({
            "activity_id": ACTIVITY, "kind": "training",
            "title": "Financial investigations training, Accra", "start": "2026-03-03",
            "end": "2026-03-05", "venue": {"city": "Accra", "country": "GH"},
            "beneficiaries": ["GH", "NG"]
        }),
        EventType::ActivityDelivered => accra_training(),
        EventType::ActivityCancelled => json!({
            "activity_id": ACTIVITY, "cancelled_on": "2026-02-20",
            "reason": "Postponed at the request of the host country"
        }),
        EventType::CaseOpened => json!({
            "case_id": CASE, "codename": "LIONFISH", "case_type": "post_seizure_investigation",
            "countries": ["PT", "GW"], "lead": "PT", "opened_on": "2024-07-09"
        }),
        EventType::CaseCountryAdded => json!({
            "case_id": CASE, "country": "VE", "added_on": "2024-09-12"
        }),
        EventType::CaseMilestoneRecorded => json!({
            "case_id": CASE, "on": "2024-09-11",
            "milestone": {"kind": "seizure", "country": "GW", "commodity": "cocaine", "quantity_kg": 2630}
        }),
        EventType::CaseClosed => json!({
            "case_id": CASE, "closed_on": "2025-06-30", "outcome": "convicted"
        }),
        EventType::EventCorrected => {
            let mut replacement = accra_training();
            replacement["participants"] = json!({"total": 26, "women": 9, "men": 17});
            json!({
                "target": TARGET, "replacement": replacement,
                "reason": "The attendance list counts 26 participants, 9 of them women"
            })
        }
        EventType::EventRetracted => json!({
            "target": TARGET, "reason": "duplicate",
            "duplicate_of": "0190f0a1-7c2e-7a10-8b3e-000000000006"
        }),
    };
    let mut object = Map::new();
    object.insert("type".into(), Value::String(event_type.name().into()));
    object.insert("recorded_by".into(), Value::String("staff.accra".into()));
    if let Value::Object(fields) = payload {
        object.extend(fields);
    }
    object
}
