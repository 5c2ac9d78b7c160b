//! Reading a row's object and reporting every structural problem, not only the first.
//!
//! The parser stops at the first structural problem of an event (it cannot read further), but
//! a sheet's user wants every problem of a row at once. So each problem the parser reports is
//! noted, the field is set aside (an unknown field removed, a missing or unreadable one stood
//! in for by a valid value), and the object is read again, until it reads. The intrinsic rules
//! then run on the event; when something was stood in for, only the rules about one field, on
//! fields that were not, are reported, since a rule across fields could be judging a stand-in.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::cells::set;
use crate::envelope::NewEvent;
use crate::events::EventType;
use crate::schema::{self, Column};
use crate::staff::{Mode, from_object};
use crate::validate::{Rule, Violation, validate};
use crate::values::Date;

/// The most problems one row is read past.
const MAX_REPAIRS: usize = 64;

/// What reading a row gave: the event when it reads, and every problem.
pub(super) struct Read {
    pub event: Option<NewEvent>,
    pub violations: Vec<Violation>,
}

/// Reads `object` (a row of `event_type` whose fields are described by `columns`), as recorded
/// on `today`.
pub(super) fn read(
    mut object: Map<String, Value>,
    event_type: EventType,
    columns: &[Column],
    today: Date,
) -> Read {
    let mut violations = Vec::new();
    let mut stood_in = BTreeSet::new();
    let mut event = None;
    for _ in 0..MAX_REPAIRS {
        match from_object(object.clone(), Mode::Staff) {
            Ok((read, _)) => {
                event = Some(read);
                break;
            }
            Err(v) => {
                let path = base_path(&v.field);
                let repaired = !path.is_empty()
                    && stood_in.insert(path.clone())
                    && repair(&mut object, &path, v.rule, event_type, columns);
                violations.push(v);
                if !repaired {
                    break;
                }
            }
        }
    }
    if let Some(e) = &event {
        violations.extend(validate(e, today).into_iter().filter(|v| {
            stood_in.is_empty()
                || !involved(v.rule, &base_path(&v.field))
                    .iter()
                    .any(|f| within(&stood_in, f))
        }));
    }
    if !violations.is_empty() {
        event = None;
    }
    Read { event, violations }
}

/// A field path without list indices: `beneficiaries[2]` → `beneficiaries`.
fn base_path(field: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in field.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The fields a broken rule was judged on (`field` is where the violation names it): a rule
/// across fields is not reported when one of them was stood in for.
fn involved(rule: Rule, field: &str) -> Vec<String> {
    let prefix = if field.starts_with("replacement.") {
        "replacement."
    } else {
        ""
    };
    let fields: &[&str] = match rule {
        Rule::StartAfterEnd | Rule::SpanTooLong => &["start", "end"],
        Rule::BeneficiaryAlsoOther => &["beneficiaries", "other_countries"],
        Rule::TooFewCountries => &[
            "kind",
            "countries",
            "beneficiaries",
            "other_countries",
            "milestone",
        ],
        Rule::LeadNotInCase => &["lead", "countries"],
        Rule::SameCountry => &["milestone"],
        Rule::SelfReference => &["target", "duplicate_of"],
        Rule::ParticipantsBreakdown => &["participants"],
        _ => return vec![field.to_owned()],
    };
    fields.iter().map(|f| format!("{prefix}{f}")).collect()
}

/// Whether `path` is one of `set` or inside one of them.
fn within(set: &BTreeSet<String>, path: &str) -> bool {
    set.iter()
        .any(|s| path == s || path.starts_with(&format!("{s}.")))
}

/// Sets the field at `path` aside so the rest can be read; `false` when it cannot be.
fn repair(
    object: &mut Map<String, Value>,
    path: &str,
    rule: Rule,
    event_type: EventType,
    columns: &[Column],
) -> bool {
    match rule {
        Rule::UnknownField => remove(object, path),
        Rule::MissingField
        | Rule::InvalidValue
        | Rule::InvalidDate
        | Rule::CountryCode
        | Rule::CurrencyCode
        | Rule::ReplacementType => {
            // An unknown milestone kind leaves its fields meaningless: the whole milestone is
            // stood in for.
            let target = path.strip_suffix(".kind").unwrap_or(path);
            match stand_in(target, event_type, columns) {
                Some(value) => set(object, target, value),
                None => false,
            }
        }
        _ => false,
    }
}

/// A valid value for `path`: the type's example's, else one of the column's shape.
fn stand_in(path: &str, event_type: EventType, columns: &[Column]) -> Option<Value> {
    let example = Value::Object(schema::example(event_type));
    let pointer = format!("/{}", path.replace('.', "/"));
    if let Some(value) = example.pointer(&pointer) {
        return Some(value.clone());
    }
    columns
        .iter()
        .find(|c| c.path == path)
        .map(|c| schema::sample(&c.shape))
}

fn remove(object: &mut Map<String, Value>, path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut current = object;
    for part in parts {
        match current.get_mut(part) {
            Some(Value::Object(inner)) => current = inner,
            _ => return false,
        }
    }
    current.remove(last).is_some()
}
