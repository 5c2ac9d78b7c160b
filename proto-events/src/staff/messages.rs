//! Translating serde error messages into violations: which field, which rule, which value.
//!
//! serde reports a problem as a message and (through serde_path_to_error) a path; the staff form
//! reports it as a [`Violation`] naming the field path, the rule and the offending value, quoted
//! and cut to a readable length.

use serde_json::Value;

use super::strict::DUPLICATE_FIELD;
use crate::country::{UNKNOWN_COUNTRY, UNKNOWN_CURRENCY};
use crate::validate::{Rule, Violation};
use crate::values::forms;

/// The most characters of an offending value quoted in an error.
const MAX_QUOTED: usize = 120;

/// Date fields of the payload structs: a serde error on one of them is an impossible date.
const DATE_FIELDS: [&str; 11] = [
    "start",
    "end",
    "registered_on",
    "joined_on",
    "changed_on",
    "cancelled_on",
    "opened_on",
    "added_on",
    "on",
    "closed_on",
    "recorded_at",
];

/// The violation for an error of the strict first reading of an event's text (at `path`): a key
/// given twice, or a syntax error.
pub(super) fn parse_error(path: &str, message: String) -> Violation {
    match between(&message, DUPLICATE_FIELD, "`") {
        Some(name) => {
            let field = match path {
                "." | "" => name.to_owned(),
                p if p.rsplit('.').next() == Some(name) => p.to_owned(),
                p => join(p, name),
            };
            Violation::new(field, Rule::DuplicateField, quote_str(name))
        }
        None => Violation::new("", Rule::Syntax, message),
    }
}

pub(super) fn classify(field: &str, message: &str, value: &Value) -> Violation {
    let rule = rule_of(field, message);
    let quoted = match rule {
        Rule::InvalidValue | Rule::InvalidDate | Rule::CountryCode | Rule::CurrencyCode => {
            format!("{}: {message}", quote(value))
        }
        _ => message.to_owned(),
    };
    Violation::new(field, rule, quoted)
}

/// Maps a serde error at `path` to (field path, rule, offending value).
pub(super) fn classify_message(path: &str, message: &str, root: &Value) -> (String, Rule, String) {
    let path = if path == "." { "" } else { path };
    // An error raised inside a nested value carries the path within it (see forms::PATH_MARK).
    if let Some((inner, rest)) = message
        .split_once(forms::PATH_MARK)
        .and_then(|(_, rest)| rest.split_once(forms::PATH_END))
    {
        return classify_message(&join(path, inner), rest, root);
    }
    if let Some(name) = between(message, "unknown field `", "`") {
        // serde_path_to_error already ends the path with the unknown field's name.
        let field = if path.rsplit('.').next() == Some(name) {
            path.to_owned()
        } else {
            join(path, name)
        };
        return (field, Rule::UnknownField, quote_str(name));
    }
    if let Some(name) = between(message, "missing field `", "`") {
        let field = if path.rsplit('.').next() == Some(name) {
            path.to_owned()
        } else {
            join(path, name)
        };
        return (field, Rule::MissingField, "absent".to_owned());
    }
    let rule = rule_of(path, message);
    if let (Rule::CountryCode | Rule::CurrencyCode, Some(code)) =
        (rule, between(message, ": \"", "\""))
    {
        // Inside a buffered (internally tagged) value the path stops at the object; find the
        // member holding the bad code so the error names it.
        let field = lookup(root, path)
            .and_then(|v| member_holding(v, code))
            .map_or_else(|| path.to_owned(), |member| join(path, &member));
        return (field, rule, quote_str(code));
    }
    let offending = lookup(root, path).map_or_else(String::new, quote);
    let value = if offending.is_empty() {
        message.to_owned()
    } else {
        format!("{offending}: {message}")
    };
    (path.to_owned(), rule, value)
}

/// The member of an object whose value is `text`, or an array holding it (`countries[1]`).
fn member_holding(value: &Value, text: &str) -> Option<String> {
    let object = value.as_object()?;
    object.iter().find_map(|(key, v)| match v {
        Value::String(s) if s == text => Some(key.clone()),
        Value::Array(items) => items
            .iter()
            .position(|i| i.as_str() == Some(text))
            .map(|i| format!("{key}[{i}]")),
        _ => None,
    })
}

fn rule_of(path: &str, message: &str) -> Rule {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    if message.contains(UNKNOWN_COUNTRY) {
        Rule::CountryCode
    } else if message.contains(UNKNOWN_CURRENCY) {
        Rule::CurrencyCode
    } else if DATE_FIELDS.contains(&last) {
        Rule::InvalidDate
    } else {
        Rule::InvalidValue
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Finds the value at a serde_path_to_error path such as `venue.country` or `beneficiaries[2]`.
fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = root;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indices) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

pub(super) fn quote(value: &Value) -> String {
    let text = value.to_string();
    truncate(&text)
}

pub(super) fn quote_str(text: &str) -> String {
    truncate(&format!("{text:?}"))
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_QUOTED).collect();
        format!("{cut}…")
    }
}
